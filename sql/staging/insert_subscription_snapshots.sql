-- Lake mode: a chunk's clean rows, canonical (view_incoming_rows_of_chunk.sql), into the
-- loading database's every-row table.
insert into raw.subscription_snapshots
select * exclude (row_fingerprint)
from incoming_rows
