-- reporting.churn_forecast: expected churn in the next month and quarter after the latest
-- snapshot (method in sql/marts/churn_forecasts.sql and docs/metric-decisions.md), with a 95%
-- interval (normal approximation of the Poisson-binomial; customers clipped at 0) and, beside
-- it, the mean absolute error of the same method and of the naive baseline in the back-test.
create or replace table reporting.churn_forecast as
with live_forecasts as (
    select *
    from core.churn_forecasts
    where forecast_kind = 'live' and expected_churned_customers is not null
),

backtest_errors as (
    select
        grain,
        any_value(backtest_periods) as backtest_periods,
        any_value(mean_abs_error_customers) as backtest_mae_customers,
        any_value(naive_mean_abs_error_customers) as naive_mae_customers,
        any_value(mean_abs_error_mrr) as backtest_mae_mrr,
        any_value(naive_mean_abs_error_mrr) as naive_mae_mrr
    from reporting.churn_forecast_backtest
    group by grain
),

final as (
    select
        live_forecasts.grain,
        live_forecasts.period_start,
        live_forecasts.period_end,
        live_forecasts.origin_date,
        live_forecasts.customers_at_origin,
        live_forecasts.mrr_at_origin,
        live_forecasts.expected_churned_customers,
        greatest(
            0.0,
            live_forecasts.expected_churned_customers
            - 1.96 * sqrt(live_forecasts.variance_churned_customers)
        ) as churned_customers_low,
        live_forecasts.expected_churned_customers
        + 1.96 * sqrt(live_forecasts.variance_churned_customers) as churned_customers_high,
        live_forecasts.expected_churned_customers
        / nullif(live_forecasts.customers_at_origin, 0) as expected_logo_churn_rate,
        live_forecasts.expected_churned_mrr,
        greatest(
            0.0,
            live_forecasts.expected_churned_mrr - 1.96 * sqrt(live_forecasts.variance_churned_mrr)
        ) as churned_mrr_low,
        live_forecasts.expected_churned_mrr
        + 1.96 * sqrt(live_forecasts.variance_churned_mrr) as churned_mrr_high,
        live_forecasts.hazard_window_start,
        live_forecasts.hazard_window_end,
        live_forecasts.trailing_customer_windows,
        cast(coalesce(backtest_errors.backtest_periods, 0) as bigint) as backtest_periods,
        backtest_errors.backtest_mae_customers,
        backtest_errors.naive_mae_customers,
        backtest_errors.backtest_mae_mrr,
        backtest_errors.naive_mae_mrr
    from live_forecasts
    left join backtest_errors using (grain)
)

select * from final
order by grain
