-- reporting.churn_forecast_backtest: the forecast method applied to every complete past month
-- and quarter it could have forecast (a trailing year with at least one complete month before
-- the period), each from the day before the period's start and only data dated up to then,
-- next to what happened (customers active at the start and inactive at the end, i.e.
-- churned_from_start, and their MRR at the start) and to the naive baseline "the same rate as
-- the last period" (the previous period's churned share of customers and of MRR applied to this
-- period's start). The mean absolute errors are over the periods where both have a forecast.
create or replace table reporting.churn_forecast_backtest as
with past_periods as (
    select
        *,
        lag(period_end) over by_grain as previous_period_end,
        lag(actual_churned_customers / nullif(customers_at_origin, 0)) over by_grain
            as previous_logo_churn_rate,
        lag(actual_churned_mrr / nullif(mrr_at_origin, 0)) over by_grain
            as previous_mrr_churn_rate
    from core.churn_forecasts
    where forecast_kind = 'backtest'
    window by_grain as (partition by grain order by period_start)
),

forecasts_and_baseline as (
    select
        grain,
        period_start,
        period_end,
        origin_date,
        customers_at_origin,
        mrr_at_origin,
        expected_churned_customers,
        variance_churned_customers,
        expected_churned_mrr,
        actual_churned_customers,
        actual_churned_mrr,
        case when previous_period_end = period_start
            then previous_logo_churn_rate * customers_at_origin end as naive_churned_customers,
        case when previous_period_end = period_start
            then previous_mrr_churn_rate * mrr_at_origin end as naive_churned_mrr
    from past_periods
    where expected_churned_customers is not null
),

errors as (
    select
        *,
        abs(expected_churned_customers - actual_churned_customers) as abs_error_customers,
        abs(naive_churned_customers - actual_churned_customers) as naive_abs_error_customers,
        abs(expected_churned_mrr - actual_churned_mrr) as abs_error_mrr,
        abs(naive_churned_mrr - actual_churned_mrr) as naive_abs_error_mrr,
        naive_churned_customers is not null as comparable
    from forecasts_and_baseline
),

final as (
    select
        grain,
        period_start,
        period_end,
        origin_date,
        customers_at_origin as customers_start,
        mrr_at_origin as mrr_start,
        expected_churned_customers as forecast_churned_customers,
        greatest(0.0, expected_churned_customers - 1.96 * sqrt(variance_churned_customers))
            as forecast_churned_customers_low,
        expected_churned_customers + 1.96 * sqrt(variance_churned_customers)
            as forecast_churned_customers_high,
        actual_churned_customers,
        abs_error_customers,
        naive_churned_customers,
        naive_abs_error_customers,
        expected_churned_mrr as forecast_churned_mrr,
        actual_churned_mrr,
        abs_error_mrr,
        naive_churned_mrr,
        naive_abs_error_mrr,
        actual_churned_customers
        between greatest(0.0, expected_churned_customers - 1.96 * sqrt(variance_churned_customers))
        and expected_churned_customers + 1.96 * sqrt(variance_churned_customers)
            as actual_within_interval,
        cast(count(*) filter (where comparable) over by_grain as bigint) as backtest_periods,
        avg(abs_error_customers) filter (where comparable) over by_grain
            as mean_abs_error_customers,
        avg(naive_abs_error_customers) filter (where comparable) over by_grain
            as naive_mean_abs_error_customers,
        avg(abs_error_mrr) filter (where comparable) over by_grain as mean_abs_error_mrr,
        avg(naive_abs_error_mrr) filter (where comparable) over by_grain
            as naive_mean_abs_error_mrr
    from errors
    window by_grain as (partition by grain)
)

select * from final
order by grain, period_start
