-- reporting.churn_seasonality: churn by month of the year over the whole history
-- (METRICS.md §7), from the complete months of reporting.churn_by_period. Rates are pooled
-- (the sum of churned over the sum of customers at start across the years), so a big year
-- weighs more than a small one; mean_logo_churn_rate is the plain average of the monthly rates.
-- churn_index compares a month's pooled rate with the pooled rate of all complete months:
-- above 1 is a month of higher than usual loss.
create or replace table reporting.churn_seasonality as
with complete_months as (
    select
        month(period_start) as month_of_year,
        year(period_start) as calendar_year,
        customers_start,
        churned_from_start,
        churned_customers,
        logo_churn_rate,
        mrr_start,
        churned_mrr
    from reporting.churn_by_period
    where grain = 'month' and is_complete
),

overall as (
    select sum(churned_from_start) / nullif(sum(customers_start), 0) as pooled_logo_churn_rate
    from complete_months
),

by_month_of_year as (
    select
        month_of_year,
        count(*) as months_observed,
        min(calendar_year) as first_year,
        max(calendar_year) as last_year,
        sum(customers_start) as customers_start,
        sum(churned_from_start) as churned_from_start,
        sum(churned_customers) as churned_customers,
        sum(churned_from_start) / nullif(sum(customers_start), 0) as logo_churn_rate,
        avg(logo_churn_rate) as mean_logo_churn_rate,
        min(logo_churn_rate) as min_logo_churn_rate,
        max(logo_churn_rate) as max_logo_churn_rate,
        sum(mrr_start) as mrr_start,
        sum(churned_mrr) as churned_mrr,
        sum(churned_mrr) / nullif(sum(mrr_start), 0) as churned_mrr_rate
    from complete_months
    group by month_of_year
),

final as (
    select
        by_month_of_year.month_of_year,
        monthname(make_date(2000, by_month_of_year.month_of_year, 1)) as month_name,
        cast(by_month_of_year.months_observed as bigint) as months_observed,
        cast(by_month_of_year.first_year as bigint) as first_year,
        cast(by_month_of_year.last_year as bigint) as last_year,
        cast(by_month_of_year.customers_start as bigint) as customers_start,
        cast(by_month_of_year.churned_from_start as bigint) as churned_from_start,
        cast(by_month_of_year.churned_customers as bigint) as churned_customers,
        by_month_of_year.logo_churn_rate,
        by_month_of_year.mean_logo_churn_rate,
        by_month_of_year.min_logo_churn_rate,
        by_month_of_year.max_logo_churn_rate,
        cast(by_month_of_year.mrr_start as bigint) as mrr_start,
        cast(by_month_of_year.churned_mrr as bigint) as churned_mrr,
        by_month_of_year.churned_mrr_rate,
        by_month_of_year.logo_churn_rate / nullif(overall.pooled_logo_churn_rate, 0) as churn_index
    from by_month_of_year
    cross join overall
)

select * from final
order by month_of_year
