-- reporting.churn_reasons_by_period: per grain, period and reason category with at least
-- one churn (METRICS.md §6). Categories add up to churned_customers and churned_mrr of
-- reporting.churn_by_period for the same period.
create or replace table reporting.churn_reasons_by_period as
with churns as (
    select movement_date, reason_category, churn_type, mrr_before
    from reporting.customer_movements
    where movement = 'churn'
),

grains as (
    select distinct grain from reporting.churn_by_period
),

churns_by_period as (
    select
        grains.grain,
        core.period_start_of(grains.grain, churns.movement_date) as period_start,
        churns.*
    from churns
    cross join grains
),

per_category as (
    select
        grain,
        period_start,
        reason_category,
        count(*) as churned_customers,
        sum(mrr_before) as churned_mrr,
        count(*) filter (where churn_type = 'voluntary') as voluntary_customers,
        count(*) filter (where churn_type = 'involuntary') as involuntary_customers
    from churns_by_period
    group by grain, period_start, reason_category
),

final as (
    select
        periods.grain,
        periods.period_start,
        periods.period_end,
        per_category.reason_category,
        cast(per_category.churned_customers as bigint) as churned_customers,
        per_category.churned_customers / nullif(periods.churned_customers, 0) as share_of_churned_customers,
        cast(per_category.churned_mrr as bigint) as churned_mrr,
        per_category.churned_mrr / nullif(periods.churned_mrr, 0) as share_of_churned_mrr,
        cast(per_category.voluntary_customers as bigint) as voluntary_customers,
        cast(per_category.involuntary_customers as bigint) as involuntary_customers
    from per_category
    inner join reporting.churn_by_period as periods using (grain, period_start)
)

select * from final
order by grain, period_start, reason_category
