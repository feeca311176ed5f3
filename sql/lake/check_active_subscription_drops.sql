-- Lake mode's no_sudden_drop_in_active_subscriptions check (warehouse mode's counts from the
-- stored versions instead: checks/active_subscription_drops.sql). Consecutive loaded snapshots
-- where the number of active or past_due subscriptions fell by more than $max_drop (a
-- fraction): the classic sign of a truncated export. The dates compared are
-- raw.drop_check_dates's: the run's, with their loaded neighbours.
with compared_dates as (
    select snapshot_date
    from raw.drop_check_dates(cast($window_start as date), cast($window_end as date))
),

-- No loaded date lies between the compared ones, so their range reads only their rows; with
-- `in (select ...)` DuckDB hashed every snapshot row for a semi join, which lake mode's
-- in-memory reader could not spill at the benchmark's size (21M rows).
compared_range as (
    select min(snapshot_date) as first_date, max(snapshot_date) as last_date
    from compared_dates
),

-- counted per date before the join: joining the rows themselves hashed every one of them
-- (1.3 GB at the benchmark's size)
active_per_date as (
    select snapshot_date, count(*) as active_subscriptions
    from raw.subscription_snapshots
    where status in ('active', 'past_due')
        and snapshot_date between (select first_date from compared_range) and (select last_date from compared_range)
    group by snapshot_date
),

active_per_snapshot as (
    select
        compared_dates.snapshot_date,
        coalesce(active_per_date.active_subscriptions, 0) as active_subscriptions
    from compared_dates
    left join active_per_date using (snapshot_date)
),

with_previous as (
    select
        snapshot_date,
        active_subscriptions,
        lag(snapshot_date) over (order by snapshot_date) as previous_snapshot_date,
        lag(active_subscriptions) over (order by snapshot_date) as previous_active_subscriptions
    from active_per_snapshot
)

select
    previous_snapshot_date,
    snapshot_date,
    previous_active_subscriptions,
    active_subscriptions,
    round(1 - active_subscriptions / previous_active_subscriptions, 4) as drop_share
from with_previous
where previous_active_subscriptions > 0
    and active_subscriptions < (1 - $max_drop) * previous_active_subscriptions
order by snapshot_date
