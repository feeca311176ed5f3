-- raw.subscription_first_loaded_dates for a warehouse loaded before the table existed: one pass
-- over raw.subscription_snapshots. Ingestion runs it when the table is empty and the snapshots
-- are not.
insert into raw.subscription_first_loaded_dates
select
    subscription_id,
    min(snapshot_date) as first_loaded_date
from raw.subscription_snapshots
group by subscription_id
