-- For each date of the window on which a subscription is past_due: the date its current
-- past-due spell (consecutive loaded snapshots in past_due) stops counting as paying, the
-- spell's first snapshot plus the grace days. A day whose row was quarantined keeps the
-- subscription's previous state (window_carried_forward_rows), so it continues the spell,
-- and has the spell's grace end too (metric decision 31). Only built when
-- past_due_grace_days is set; otherwise the table is empty.
create or replace temp table past_due_spells as
-- Subscriptions past due on the window's dates, loaded or carried forward; the others have
-- no spell to look up.
with candidate_subscriptions as (
    select subscription_id from window_past_due_subscriptions
    union
    select subscription_id
    from window_carried_forward_rows
    where status = 'past_due'
        and $grace_days is not null
        and snapshot_date in (select snapshot_date from window_snapshot_dates)
),

past_due_rows as (
    select snapshot_date, subscription_id
    from raw.subscription_snapshots
    where status = 'past_due'
        and $grace_days is not null
        and snapshot_date <= $window_end
        and subscription_id in (select subscription_id from candidate_subscriptions)
    union all
    select snapshot_date, subscription_id
    from window_carried_forward_rows
    where status = 'past_due'
        and $grace_days is not null
        and subscription_id in (select subscription_id from candidate_subscriptions)
),

past_due_history as (
    select
        past_due_rows.subscription_id,
        past_due_rows.snapshot_date,
        window_snapshot_sequence.snapshot_number
    from past_due_rows
    inner join window_snapshot_sequence using (snapshot_date)
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
-- (computed here: the view window_subscription_state_rows cannot take the parameter)
select
    subscription_id,
    snapshot_date,
    min(snapshot_date) over (partition by subscription_id, spell_key)
        + cast($grace_days as integer) as grace_ends_on
from spells
