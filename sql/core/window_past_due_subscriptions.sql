-- The subscriptions whose loaded row is past_due on one of the window's dates: those a
-- past-due spell can concern. Both window_carried_forward_rows (their quarantined days can
-- carry a past_due state) and past_due_spells read it. Empty unless past_due_grace_days is set.
create or replace temp table window_past_due_subscriptions as
select distinct subscription_id
from raw.subscription_snapshots
where status = 'past_due'
    and $grace_days is not null
    and snapshot_date between getvariable('window_snapshot_range').first
    and getvariable('window_snapshot_range').last
    and snapshot_date in (select snapshot_date from window_snapshot_dates)
