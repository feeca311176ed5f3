-- The loaded snapshot dates the no_sudden_drop_in_active_subscriptions check compares: the
-- checked dates (raw.checked_snapshot_dates) that loaded, with the loaded date before the first
-- and after the last of them; earlier pairs were checked when they were ingested. Both modes'
-- queries read it (checks/active_subscription_drops.sql, lake/check_active_subscription_drops.sql).
create or replace macro raw.drop_check_dates(window_start, window_end) as table
with loaded_dates as (
    select snapshot_date
    from raw.snapshot_deliveries
    where status = 'loaded'
),

latest_ingestion_dates as (
    select snapshot_date
    from loaded_dates
    where snapshot_date in (
        select snapshot_date
        from raw.checked_snapshot_dates(window_start, window_end)
    )
),

compared_dates as (
    select snapshot_date from latest_ingestion_dates
    union
    select max(snapshot_date)
    from loaded_dates
    where snapshot_date < (select min(snapshot_date) from latest_ingestion_dates)
    union
    select min(snapshot_date)
    from loaded_dates
    where snapshot_date > (select max(snapshot_date) from latest_ingestion_dates)
)

select snapshot_date
from compared_dates
where snapshot_date is not null
