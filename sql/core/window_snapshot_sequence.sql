-- Every loaded snapshot date of the history, numbered in order: consecutive snapshots have
-- consecutive numbers whatever the gaps (missing or refused dates) between them. Read by
-- window_carried_forward_rows and past_due_spells.
create or replace temp table window_snapshot_sequence as
select
    snapshot_date,
    row_number() over (order by snapshot_date) as snapshot_number
from raw.snapshot_deliveries
where status = 'loaded'
