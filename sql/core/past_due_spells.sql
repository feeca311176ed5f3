-- For each date of the window on which a subscription is past_due: the date its current
-- past-due spell (consecutive loaded snapshots in past_due) stops counting as paying, the
-- spell's first snapshot plus the grace days. A day whose row was quarantined keeps the
-- subscription's previous state (METRICS.md §1), so it continues the spell, and has the
-- spell's grace end too. Only built when past_due_grace_days is set; otherwise the table is
-- empty.
create or replace temp table past_due_spells as
with snapshot_sequence as (
    select
        snapshot_date,
        row_number() over (order by snapshot_date) as snapshot_number
    from raw.snapshot_deliveries
    where status = 'loaded'
),

-- Subscriptions past due in the window, and those with a rejected row there (their state
-- carried forward may be past due); the others have no spell to look up.
candidate_subscriptions as (
    select subscription_id
    from raw.subscription_snapshots
    where status = 'past_due'
        and $grace_days is not null
        and snapshot_date between getvariable('window_snapshot_range').first
        and getvariable('window_snapshot_range').last
        and snapshot_date in (select snapshot_date from window_snapshot_dates)
    union
    select subscription_id
    from raw.rejected_rows
    where subscription_id is not null
        and $grace_days is not null
        and snapshot_date between getvariable('window_snapshot_range').first
        and getvariable('window_snapshot_range').last
        and snapshot_date in (select snapshot_date from window_snapshot_dates)
),

candidate_loaded_rows as (
    select snapshot_date, subscription_id, status
    from raw.subscription_snapshots
    where $grace_days is not null
        and snapshot_date <= $window_end
        and subscription_id in (select subscription_id from candidate_subscriptions)
),

-- Loaded dates on which a candidate's row was rejected and no row of it was loaded (as in
-- window_subscription_states, whose carried-forward rows these spells must match).
quarantined_days as (
    select rejected.snapshot_date, rejected.subscription_id
    from raw.rejected_rows as rejected
    inner join snapshot_sequence using (snapshot_date)
    where $grace_days is not null
        and rejected.snapshot_date <= $window_end
        and rejected.subscription_id in (select subscription_id from candidate_subscriptions)
    except
    select snapshot_date, subscription_id from candidate_loaded_rows
),

carried_forward_states as (
    select
        quarantined.snapshot_date,
        quarantined.subscription_id,
        previous.status
    from quarantined_days as quarantined
    asof inner join candidate_loaded_rows as previous
        on quarantined.subscription_id = previous.subscription_id
        and quarantined.snapshot_date > previous.snapshot_date
),

past_due_history as (
    select
        states.subscription_id,
        states.snapshot_date,
        snapshot_sequence.snapshot_number
    from (
        select * from candidate_loaded_rows
        union all
        select * from carried_forward_states
    ) as states
    inner join snapshot_sequence using (snapshot_date)
    where states.status = 'past_due'
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
