-- Subscription state on each snapshot date the window needs (METRICS.md §2):
-- paying = active or past_due with MRR > 0 (past_due only within the grace days when
-- set); held = paused. A subscription whose row was quarantined on a date has not ended:
-- it keeps the state of its latest loaded row before that date (METRICS.md §1), past-due
-- spell included. Read through window_subscription_states (a view in warehouse mode, a
-- table in lake mode).
create or replace temp view window_subscription_state_rows as
with loaded_rows as (
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
    where snapshot_date between getvariable('window_snapshot_range').first
        and getvariable('window_snapshot_range').last
        and snapshot_date in (select snapshot_date from window_snapshot_dates)
),

-- Rejected rows are few: the loaded rows they are compared with are read for their dates
-- and subscriptions only. (A NOT IN over `loaded_rows` hashed every loaded row of the
-- window, and made DuckDB materialise `loaded_rows` for its second reader: 4.5 of the 8 s
-- of a 730-day backfill's statement, with no rejected row at all.)
rejected_subscriptions as (
    select distinct snapshot_date, subscription_id
    from raw.rejected_rows
    where subscription_id is not null
        and snapshot_date between getvariable('window_snapshot_range').first
        and getvariable('window_snapshot_range').last
        and snapshot_date in (select snapshot_date from window_snapshot_dates)
),

loaded_rows_of_rejected_subscriptions as (
    select snapshot_date, subscription_id
    from raw.subscription_snapshots
    where snapshot_date in (select snapshot_date from rejected_subscriptions)
        and subscription_id in (select subscription_id from rejected_subscriptions)
),

quarantined_subscriptions as (
    select snapshot_date, subscription_id from rejected_subscriptions
    except
    select snapshot_date, subscription_id from loaded_rows_of_rejected_subscriptions
),

earlier_rows_of_quarantined_subscriptions as (
    select *
    from raw.subscription_snapshots
    where subscription_id in (select subscription_id from quarantined_subscriptions)
),

carried_forward_rows as (
    select
        quarantined.snapshot_date,
        previous.subscription_id,
        previous.customer_id,
        previous.status,
        previous.stops_involuntarily,
        previous.mrr_cents,
        previous.cancel_reason,
        previous.canceled_at,
        previous.ended_at
    from quarantined_subscriptions as quarantined
    asof inner join earlier_rows_of_quarantined_subscriptions as previous
        on quarantined.subscription_id = previous.subscription_id
        and quarantined.snapshot_date > previous.snapshot_date
),

subscriptions as (
    select * from loaded_rows
    union all
    select * from carried_forward_rows
),

with_past_due_spell as (
    select
        subscriptions.*,
        past_due_spells.grace_ends_on
    from subscriptions
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
