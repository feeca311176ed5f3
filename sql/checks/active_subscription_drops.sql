-- Consecutive loaded snapshots where the number of active or past_due subscriptions fell by
-- more than $max_drop (a fraction): the classic sign of a truncated export.
with active_per_snapshot as (
    select deliveries.snapshot_date, count(snapshots.subscription_id) as active_subscriptions
    from raw.snapshot_deliveries as deliveries
    left join raw.subscription_snapshots as snapshots
        on snapshots.snapshot_date = deliveries.snapshot_date
        and snapshots.status in ('active', 'past_due')
    where deliveries.status = 'loaded'
    group by deliveries.snapshot_date
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
