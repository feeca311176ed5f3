-- Rows read, loaded and rejected per snapshot date of `validated_rows`, and a fingerprint of
-- their content (each row's `content_hash`, hashed once per validated text). Row by row: for a
-- chunk with a duplicated key or a text listed twice on a date; any other chunk is counted
-- from its texts (delivery_accounting_of_texts.sql), to the same table.
create or replace temp table delivery_accounting as
select
    snapshot_date_of_file as snapshot_date,
    count(*) as rows_read,
    count(*) filter (where rule is null) as rows_loaded,
    count(*) filter (where rule is not null) as rows_rejected,
    bit_xor(content_hash) as content_fingerprint
from validated_rows
group by snapshot_date_of_file
