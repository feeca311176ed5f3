-- Subscription state on each snapshot date the window needs (METRICS.md §2):
-- paying = active or past_due with MRR > 0 (past_due only within the grace days when
-- set); held = paused.
create or replace temp table window_subscription_states as
with subscriptions as (
    select
        snapshot_date,
        subscription_id,
        customer_id,
        status,
        stops_involuntarily,
        mrr_cents,
        cancel_reason,
        canceled_at,
        ended_at
    from raw.subscription_snapshots
    where snapshot_date in (select snapshot_date from window_snapshot_dates)
),

with_past_due_spell as (
    select
        subscriptions.*,
        past_due_spells.past_due_since
    from subscriptions
    left join past_due_spells using (snapshot_date, subscription_id)
),

final as (
    select
        *,
        status in ('active', 'past_due')
            and mrr_cents > 0
            and not coalesce(
                status = 'past_due'
                and snapshot_date >= past_due_since + cast($grace_days as integer),
                false
            ) as is_paying,
        status = 'paused' as is_held
    from with_past_due_spell
)

select * from final
