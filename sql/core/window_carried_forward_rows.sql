-- The rows that stand in for quarantined rows (METRICS.md §1). On a loaded snapshot date on
-- which a subscription's row was rejected and none of its rows was loaded, the subscription
-- keeps its state of the previous snapshot: the row of its latest earlier loaded snapshot,
-- provided it was on every loaded snapshot since (loaded or quarantined). One that was absent
-- from a snapshot in between had ended there, and stays ended: no row. Refused dates are
-- gaps, not snapshots, and their rows are never carried.
-- Every such day up to the window's end, of the subscriptions quarantined on the window's
-- dates and, with grace days, of those past due there: window_subscription_state_rows reads
-- the window's dates, past_due_spells the history before them (a spell can start earlier).
create or replace temp table window_carried_forward_rows as
-- Rejected rows are few: the loaded rows they are compared with are read for their dates
-- and subscriptions only.
with rejected_in_window as (
    select snapshot_date, subscription_id
    from rejected_subscription_days
    where snapshot_date between getvariable('window_snapshot_range').first
        and getvariable('window_snapshot_range').last
        and snapshot_date in (select snapshot_date from window_snapshot_dates)
),

loaded_rows_of_rejected_in_window as (
    select snapshot_date, subscription_id
    from raw.subscription_snapshots
    where snapshot_date between getvariable('window_snapshot_range').first
        and getvariable('window_snapshot_range').last
        and snapshot_date in (select snapshot_date from rejected_in_window)
        and subscription_id in (select subscription_id from rejected_in_window)
),

subscriptions_carried as (
    select subscription_id
    from (
        select snapshot_date, subscription_id from rejected_in_window
        except
        select snapshot_date, subscription_id from loaded_rows_of_rejected_in_window
    )
    union
    select subscription_id from window_past_due_subscriptions
),

loaded_history as (
    select
        snapshots.snapshot_date,
        window_snapshot_sequence.snapshot_number,
        snapshots.subscription_id,
        snapshots.customer_id,
        snapshots.status,
        snapshots.stops_involuntarily,
        snapshots.mrr_cents,
        snapshots.cancel_reason,
        snapshots.canceled_at,
        snapshots.ended_at
    from raw.subscription_snapshots as snapshots
    inner join window_snapshot_sequence using (snapshot_date)
    where snapshots.snapshot_date <= getvariable('window_snapshot_range').last
        and snapshots.subscription_id in (select subscription_id from subscriptions_carried)
),

quarantined_days as (
    select
        rejected.snapshot_date,
        window_snapshot_sequence.snapshot_number,
        rejected.subscription_id
    from rejected_subscription_days as rejected
    inner join window_snapshot_sequence using (snapshot_date)
    anti join loaded_history using (snapshot_date, subscription_id)
    where rejected.snapshot_date <= getvariable('window_snapshot_range').last
        and rejected.subscription_id in (select subscription_id from subscriptions_carried)
),

with_previous_row as (
    select
        quarantined.snapshot_date,
        quarantined.snapshot_number,
        previous.snapshot_number as previous_snapshot_number,
        previous.subscription_id,
        previous.customer_id,
        previous.status,
        previous.stops_involuntarily,
        previous.mrr_cents,
        previous.cancel_reason,
        previous.canceled_at,
        previous.ended_at
    from quarantined_days as quarantined
    asof inner join loaded_history as previous
        on quarantined.subscription_id = previous.subscription_id
        and quarantined.snapshot_date > previous.snapshot_date
),

-- Present on every snapshot since the previous row: each snapshot in between was one of its
-- quarantined days (it had no loaded row there, the previous row being the latest).
quarantined_days_in_between as (
    select
        with_previous_row.snapshot_date,
        with_previous_row.subscription_id,
        count(*) as snapshots
    from with_previous_row
    inner join quarantined_days as in_between
        on with_previous_row.subscription_id = in_between.subscription_id
        and in_between.snapshot_number > with_previous_row.previous_snapshot_number
        and in_between.snapshot_number < with_previous_row.snapshot_number
    group by with_previous_row.snapshot_date, with_previous_row.subscription_id
),

final as (
    select with_previous_row.* exclude (snapshot_number, previous_snapshot_number)
    from with_previous_row
    left join quarantined_days_in_between using (snapshot_date, subscription_id)
    where with_previous_row.snapshot_number - with_previous_row.previous_snapshot_number - 1
        = coalesce(quarantined_days_in_between.snapshots, 0)
)

select * from final
