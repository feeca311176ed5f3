-- reporting.churn_by_tenure: which months of a customer's life lose the most (METRICS.md §7).
-- A life table over calendar months: a customer active at the start of a complete month is
-- exposed at its tenure month (whole months since its first paying day, no reset on
-- reactivation) and churned when inactive at the month's end (the churned_from_start rule of
-- churn_by_period, so the rows add up to the month grain's customers_start and
-- churned_from_start over complete months). The opening base, whose first paying day is
-- unknown, is one row with tenure_month NULL.
create or replace table reporting.churn_by_tenure as
with exposures as (
    select
        tenure_month,
        is_opening,
        month_start,
        mrr_start,
        not active_at_end as churned
    from core.customer_months
    where month_complete
),

tenure_months as (
    select
        tenure_month,
        case when is_opening then 'opening' else 'known_tenure' end as tenure_basis,
        count(distinct month_start) as calendar_months,
        count(*) as customers_exposed,
        count(*) filter (where churned) as customers_churned,
        sum(mrr_start) as mrr_exposed,
        coalesce(sum(mrr_start) filter (where churned), 0) as churned_mrr
    from exposures
    group by tenure_month, is_opening
),

final as (
    select
        tenure_month,
        tenure_basis,
        cast(calendar_months as bigint) as calendar_months,
        cast(customers_exposed as bigint) as customers_exposed,
        cast(customers_churned as bigint) as customers_churned,
        customers_churned / customers_exposed as hazard,
        cast(mrr_exposed as bigint) as mrr_exposed,
        cast(churned_mrr as bigint) as churned_mrr,
        churned_mrr / nullif(mrr_exposed, 0) as mrr_hazard
    from tenure_months
)

select * from final
order by tenure_month nulls last
