-- The window's movements into the movement log. A churn whose stopped subscriptions ended
-- strictly inside a gap of missing snapshots is dated by that end date (METRICS.md §3).
insert into core.customer_movements
select
    movements.observed_on,
    movements.previous_snapshot_date,
    movements.customer_id,
    case
        when movements.movement = 'churn'
            and churn_details.latest_stop_date > movements.previous_snapshot_date
            and churn_details.latest_stop_date < movements.observed_on
            then churn_details.latest_stop_date
        else movements.observed_on
    end as movement_date,
    movements.movement,
    movements.mrr_before,
    movements.mrr_after,
    churn_details.reason_raw,
    churn_details.stopped_in_dunning,
    churn_details.deciding_subscription_id
from window_movements as movements
left join window_churn_details as churn_details using (observed_on, customer_id)
