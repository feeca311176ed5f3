-- reporting.at_risk_customers: customers active at the latest snapshot who show a warning
-- sign (METRICS.md §7), one row per customer, signal and subscription, most MRR at stake first.
-- Signals: past_due (since the first snapshot of the current past-due spell), a scheduled
-- cancellation (canceled_at set while still active or past_due; since canceled_at), paused
-- (since the first snapshot of the current pause; at stake: the paused plan's MRR), and a
-- contraction in the last 30 days (since its date; at stake: the customer's current MRR).
create or replace table reporting.at_risk_customers as
with latest_snapshot as (
    select max(snapshot_date) as snapshot_date
    from raw.snapshot_deliveries
    where status = 'loaded'
),

snapshot_sequence as (
    select snapshot_date, row_number() over (order by snapshot_date) as snapshot_number
    from raw.snapshot_deliveries
    where status = 'loaded'
),

customer_state_now as (
    select
        customer_id,
        arg_max(movement, movement_date) as last_movement,
        arg_max(coalesce(mrr_after, 0), movement_date) as customer_mrr
    from core.customer_movements
    group by customer_id
),

active_customers as (
    select customer_id, customer_mrr
    from customer_state_now
    where last_movement <> 'churn'
),

subscriptions_now as (
    select snapshots.*
    from raw.subscription_snapshots as snapshots
    inner join latest_snapshot using (snapshot_date)
    inner join active_customers using (customer_id)
),

subscriptions_in_spell_now as (
    select subscription_id
    from subscriptions_now
    where status in ('past_due', 'paused')
),

-- most current spells began in the last 62 loaded snapshots: their rows are read first (the
-- scan skips older row groups); a subscription in its status on every one of them may have
-- been in it before, so its older rows are read too
recent_snapshots as (
    select snapshot_date
    from snapshot_sequence
    where snapshot_number > (select max(snapshot_number) from snapshot_sequence) - 62
),

-- only loaded dates count: a refused file's rows stay in the table but are no snapshot
recent_spell_status_rows as (
    select history.subscription_id, history.status, history.snapshot_date
    from raw.subscription_snapshots as history
    inner join recent_snapshots using (snapshot_date)
    where history.status in ('past_due', 'paused')
        and history.subscription_id in (select subscription_id from subscriptions_in_spell_now)
        and history.snapshot_date >= (select min(snapshot_date) from recent_snapshots)
),

in_status_on_every_recent_snapshot as (
    select subscription_id
    from recent_spell_status_rows
    group by subscription_id, status
    having count(*) = (select count(*) from recent_snapshots)
),

spell_status_rows as (
    select * from recent_spell_status_rows
    union all
    select history.subscription_id, history.status, history.snapshot_date
    from raw.subscription_snapshots as history
    where history.status in ('past_due', 'paused')
        and history.subscription_id in (select subscription_id from in_status_on_every_recent_snapshot)
        and history.snapshot_date < (select min(snapshot_date) from recent_snapshots)
),

-- spells: runs of consecutive loaded snapshots in one status; the rows of a run share
-- snapshot_number - row_number()
spell_rows as (
    select
        rows_in_status.subscription_id,
        rows_in_status.status,
        rows_in_status.snapshot_date,
        snapshot_sequence.snapshot_number
            - row_number() over (
                partition by rows_in_status.subscription_id, rows_in_status.status
                order by snapshot_sequence.snapshot_number
            ) as spell_key
    from spell_status_rows as rows_in_status
    inner join snapshot_sequence using (snapshot_date)
),

current_spells as (
    select subscription_id, status, min(snapshot_date) as spell_start
    from spell_rows
    group by subscription_id, status, spell_key
    having max(snapshot_date) = (select snapshot_date from latest_snapshot)
),

subscription_signals as (
    select
        subscriptions_now.customer_id,
        case subscriptions_now.status when 'past_due' then 'past_due' else 'paused' end as signal,
        current_spells.spell_start as since,
        subscriptions_now.mrr_cents as mrr_at_stake,
        subscriptions_now.subscription_id
    from subscriptions_now
    inner join current_spells
        on current_spells.subscription_id = subscriptions_now.subscription_id
        and current_spells.status = subscriptions_now.status
    union all
    select
        customer_id,
        'scheduled_cancellation' as signal,
        canceled_at as since,
        mrr_cents as mrr_at_stake,
        subscription_id
    from subscriptions_now
    where status in ('active', 'past_due')
        and canceled_at is not null
        and (ended_at is null or ended_at > (select snapshot_date from latest_snapshot))
),

recent_contractions as (
    select
        movements.customer_id,
        'contraction_last_30_days' as signal,
        max(movements.movement_date) as since,
        any_value(active_customers.customer_mrr) as mrr_at_stake,
        cast(null as varchar) as subscription_id
    from core.customer_movements as movements
    inner join active_customers using (customer_id)
    where movements.movement = 'contraction'
        and movements.movement_date > (select snapshot_date - 30 from latest_snapshot)
    group by movements.customer_id
),

final as (
    select
        signals.customer_id,
        signals.signal,
        signals.since,
        cast(signals.mrr_at_stake as bigint) as mrr_at_stake,
        signals.subscription_id,
        cast(active_customers.customer_mrr as bigint) as customer_mrr,
        (select snapshot_date from latest_snapshot) as as_of
    from (
        select * from subscription_signals
        union all
        select * from recent_contractions
    ) as signals
    inner join active_customers using (customer_id)
)

select * from final
order by mrr_at_stake desc, customer_id, signal
