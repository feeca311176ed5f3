-- Lake mode: every subscription row of the window's snapshot dates, and the rows standing in
-- for quarantined ones (window_carried_forward_rows). Warehouse mode reads the compared
-- customers' versions only (core/window_listed_rows.sql); on a warehouse, this file gives
-- the log that shortcut must equal (movements.window_steps, tests/test_subscription_changes.py).
create or replace temp view window_listed_rows as
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

carried_forward_rows as (
    select *
    from window_carried_forward_rows
    where snapshot_date in (select snapshot_date from window_snapshot_dates)
)

select * from loaded_rows
union all by name
select * from carried_forward_rows
