-- The first and latest loaded snapshot dates: the span every mart and period is measured in.
create or replace view core.snapshot_range as
select
    min(snapshot_date) as first_snapshot_date,
    max(snapshot_date) as latest_snapshot_date
from raw.snapshot_deliveries
where status = 'loaded'
