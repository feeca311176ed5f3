-- Lake mode's snapshot_keys_valid check (warehouse mode's reads the stored versions instead:
-- checks/snapshot_key_violations.sql). Loaded rows of the run's dates (else the latest
-- ingestion's) with an empty key, or a subscription_id listed twice in one snapshot. Earlier dates were checked when they were
-- ingested; reading only this run's dates keeps a nightly check as cheap on a long history as
-- on a short one.
with latest_ingestion_dates as (
    select snapshot_date
    from raw.checked_snapshot_dates(cast($window_start as date), cast($window_end as date))
),

-- The dates as a range (one ingestion loads consecutive dates): with `in (select ...)` DuckDB
-- hashed every snapshot row for a semi join, which lake mode's in-memory reader could not
-- spill at the benchmark's size (21M rows).
checked_range as (
    select min(snapshot_date) as first_date, max(snapshot_date) as last_date
    from latest_ingestion_dates
),

-- each part reads the rows itself: a CTE of them read by both would be materialised whole
null_keys as (
    select snapshot_date, subscription_id, 'empty key' as problem
    from raw.subscription_snapshots
    where snapshot_date between (select first_date from checked_range) and (select last_date from checked_range)
        and (subscription_id is null or subscription_id = '' or customer_id is null or customer_id = '')
),

duplicate_keys as (
    select snapshot_date, subscription_id, 'subscription_id listed ' || count(*) || ' times' as problem
    from raw.subscription_snapshots
    where snapshot_date between (select first_date from checked_range) and (select last_date from checked_range)
    group by snapshot_date, subscription_id
    having count(*) > 1
)

select * from null_keys
union all
select * from duplicate_keys
order by snapshot_date, subscription_id, problem
limit 50
