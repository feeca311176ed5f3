-- reporting.customer_movements: one row per movement (METRICS.md §3, INTERFACE.md), with
-- churn_type decided before the reason category: involuntary when the reason maps to
-- payment_failed, or when no reason was given and a stopped subscription was in dunning.
create or replace table reporting.customer_movements as
with movements as (
    select *
    from core.customer_movements
    where movement <> 'opening'
),

reason_categories as (
    select reason_raw, mapped_category
    from core.churn_reason_categories
),

typed as (
    select
        movements.*,
        reason_categories.mapped_category,
        case
            when movements.movement <> 'churn' then null
            when reason_categories.mapped_category = 'payment_failed' then 'involuntary'
            when movements.reason_raw is null and movements.stopped_in_dunning then 'involuntary'
            else 'voluntary'
        end as churn_type
    from movements
    left join reason_categories using (reason_raw)
),

final as (
    select
        customer_id,
        movement_date,
        movement,
        cast(coalesce(mrr_before, 0) as bigint) as mrr_before,
        cast(coalesce(mrr_after, 0) as bigint) as mrr_after,
        churn_type,
        case
            when movement <> 'churn' then null
            when mapped_category is not null then mapped_category
            when churn_type = 'involuntary' then 'payment_failed'
            else 'unknown'
        end as reason_category,
        reason_raw,
        observed_on,
        previous_snapshot_date
    from typed
)

select * from final
order by movement_date, customer_id
