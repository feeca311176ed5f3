-- For each past_due subscription row of the window: the date its current past-due spell
-- (consecutive snapshots in past_due) stops counting as paying, its first snapshot plus the
-- grace days. Only built when past_due_grace_days is set; otherwise the table is empty.
create or replace temp table past_due_spells as
with snapshot_sequence as (
    select
        snapshot_date,
        row_number() over (order by snapshot_date) as snapshot_number
    from raw.snapshot_deliveries
    where status = 'loaded'
),

past_due_subscriptions_in_window as (
    select distinct subscription_id
    from raw.subscription_snapshots
    where status = 'past_due'
        and $grace_days is not null
        and snapshot_date between getvariable('window_snapshot_range').first
        and getvariable('window_snapshot_range').last
        and snapshot_date in (select snapshot_date from window_snapshot_dates)
),

past_due_history as (
    select
        snapshots.subscription_id,
        snapshots.snapshot_date,
        snapshot_sequence.snapshot_number
    from raw.subscription_snapshots as snapshots
    inner join snapshot_sequence using (snapshot_date)
    where snapshots.status = 'past_due'
        and $grace_days is not null
        and snapshots.snapshot_date <= $window_end
        and snapshots.subscription_id in (select subscription_id from past_due_subscriptions_in_window)
),

spells as (
    select
        subscription_id,
        snapshot_date,
        snapshot_number - row_number() over (
            partition by subscription_id order by snapshot_number
        ) as spell_key
    from past_due_history
)

-- grace_ends_on: the first date of the spell on which past_due no longer counts as paying
-- (computed here: the view window_subscription_states cannot take the parameter)
select
    subscription_id,
    snapshot_date,
    min(snapshot_date) over (partition by subscription_id, spell_key)
        + cast($grace_days as integer) as grace_ends_on
from spells
