-- For each churn of the window: the subscriptions that stopped (paying or held on the
-- previous snapshot), the deciding one (a given reason first, then largest MRR, then
-- smallest subscription_id), whether any stopped in dunning (past_due before or after -- after
-- alone when past due never pays, `past_due_grace_days` = 0 -- or a status such as `unpaid`
-- after), and the latest ended_at (else canceled_at) among them.
-- Reasons and dates come from the current snapshot's row, else the previous one's (some
-- exports drop ended rows).
create or replace temp table window_churn_details as
with churns as (
    select observed_on, previous_snapshot_date, customer_id
    from window_movements
    where movement = 'churn'
),

stopped_subscriptions as (
    select
        churns.observed_on,
        churns.customer_id,
        before.subscription_id,
        case when before.is_paying then before.mrr_cents else 0 end as mrr_before,
        before.status = 'past_due'
            or after.status = 'past_due'
            or coalesce(after.stops_involuntarily, false) as in_dunning,
        coalesce(after.cancel_reason, before.cancel_reason) as reason_raw,
        coalesce(after.ended_at, before.ended_at, after.canceled_at, before.canceled_at) as stop_date
    from churns
    inner join window_subscription_states as before
        on before.snapshot_date = churns.previous_snapshot_date
        and before.customer_id = churns.customer_id
        and (before.is_paying or before.is_held)
    left join window_subscription_states as after
        on after.snapshot_date = churns.observed_on
        and after.subscription_id = before.subscription_id
),

ranked as (
    select
        *,
        row_number() over (
            partition by observed_on, customer_id
            order by reason_raw is null, mrr_before desc, subscription_id
        ) as decision_rank
    from stopped_subscriptions
),

final as (
    select
        observed_on,
        customer_id,
        any_value(subscription_id) filter (where decision_rank = 1) as deciding_subscription_id,
        any_value(reason_raw) filter (where decision_rank = 1) as reason_raw,
        bool_or(in_dunning) as stopped_in_dunning,
        max(stop_date) as latest_stop_date
    from ranked
    group by observed_on, customer_id
)

select * from final
