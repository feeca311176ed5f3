-- One movement per customer and snapshot pair whose state changed (METRICS.md §3): each
-- compared customer's active state on the previous and on the current snapshot.
create or replace temp table window_movements as
with compared as (
    select
        compared.observed_on,
        compared.previous_snapshot_date,
        compared.customer_id,
        state_before.mrr_cents as mrr_before,
        state_after.mrr_cents as mrr_after,
        state_after.first_activation_date,
        state_before.customer_id is not null as was_active,
        state_after.customer_id is not null as is_active
    from window_compared_customers as compared
    left join window_active_customers as state_before
        on state_before.snapshot_date = compared.previous_snapshot_date
        and state_before.customer_id = compared.customer_id
    left join window_active_customers as state_after
        on state_after.snapshot_date = compared.observed_on
        and state_after.customer_id = compared.customer_id
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
    where was_active or is_active
)

select * from classified
where movement is not null
