-- Consecutive loaded snapshots where the number of active or past_due subscriptions fell by
-- more than $max_drop (a fraction): the classic sign of a truncated export. The dates compared
-- are raw.drop_check_dates's: the run's, with their loaded neighbours.
-- Each date's count comes from the stored versions (raw.subscription_changes): the versions
-- that start on or before it less those that end on or before it. Expanding
-- raw.subscription_snapshots over a backfill's dates instead reads every row of the history
-- (lake mode's lake/check_active_subscription_drops.sql, which gives the same findings).
with compared_dates as (
    select snapshot_date
    from raw.drop_check_dates(cast($window_start as date), cast($window_end as date))
),

active_versions as (
    select changed_on, valid_until
    from raw.subscription_changes
    where is_listed and status in ('active', 'past_due')
),

-- +1 where an active version starts, -1 where it ends (valid_until: its first day not valid)
active_count_changes as (
    select changed_on as day, count(*) as change_in_active
    from active_versions
    group by changed_on
    union all
    select valid_until as day, -count(*) as change_in_active
    from active_versions
    group by valid_until
),

active_from_day as (
    select
        day,
        cast(sum(sum(change_in_active)) over (order by day) as bigint) as active_subscriptions
    from active_count_changes
    group by day
),

active_per_snapshot as (
    select
        compared_dates.snapshot_date,
        coalesce(active_from_day.active_subscriptions, 0) as active_subscriptions
    from compared_dates
    asof left join active_from_day
        on compared_dates.snapshot_date >= active_from_day.day
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
