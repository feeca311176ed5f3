-- One movement per customer and snapshot pair whose state changed (METRICS.md §3), from a
-- full outer join of the active customers on the previous and the current snapshot.
create or replace temp table window_movements as
with state_before as (
    select
        pairs.snapshot_date as observed_on,
        pairs.previous_snapshot_date,
        active.customer_id,
        active.mrr_cents as mrr_before
    from window_snapshot_pairs as pairs
    inner join window_active_customers as active
        on active.snapshot_date = pairs.previous_snapshot_date
),

state_after as (
    select
        pairs.snapshot_date as observed_on,
        pairs.previous_snapshot_date,
        active.customer_id,
        active.mrr_cents as mrr_after,
        active.first_activation_date
    from window_snapshot_pairs as pairs
    inner join window_active_customers as active
        on active.snapshot_date = pairs.snapshot_date
),

compared as (
    select
        coalesce(state_before.observed_on, state_after.observed_on) as observed_on,
        coalesce(state_before.previous_snapshot_date, state_after.previous_snapshot_date)
            as previous_snapshot_date,
        coalesce(state_before.customer_id, state_after.customer_id) as customer_id,
        state_before.mrr_before,
        state_after.mrr_after,
        state_after.first_activation_date,
        state_before.customer_id is not null as was_active,
        state_after.customer_id is not null as is_active
    from state_before
    full outer join state_after
        on state_before.observed_on = state_after.observed_on
        and state_before.customer_id = state_after.customer_id
),

classified as (
    select
        *,
        case
            when previous_snapshot_date is null then 'opening'
            when not was_active and first_activation_date < observed_on then 'reactivation'
            when not was_active then 'new'
            when not is_active then 'churn'
            when mrr_after > mrr_before then 'expansion'
            when mrr_after < mrr_before then 'contraction'
        end as movement
    from compared
)

select * from classified
where movement is not null
