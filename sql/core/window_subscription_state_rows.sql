-- Subscription state on each snapshot date the window needs (METRICS.md §2):
-- paying = active or past_due with MRR > 0 (past_due only within the grace days when
-- set); held = paused. A subscription whose row was quarantined on a date has not ended:
-- it keeps its state of the previous snapshot (METRICS.md §1, window_carried_forward_rows,
-- part of window_listed_rows), past-due spell included. Read through
-- window_subscription_states (a table).
create or replace temp view window_subscription_state_rows as
with with_past_due_spell as (
    select
        listed.*,
        past_due_spells.grace_ends_on
    from window_listed_rows as listed
    left join past_due_spells using (snapshot_date, subscription_id)
),

final as (
    select
        *,
        status in ('active', 'past_due')
            and mrr_cents > 0
            and not coalesce(status = 'past_due' and snapshot_date >= grace_ends_on, false)
            as is_paying,
        status = 'paused' as is_held
    from with_past_due_spell
)

select * from final
