-- core.churn_forecasts: the churn forecast of every period it can be made for (METRICS.md §7):
-- each complete month and quarter of reporting.churn_by_period (the back-test, forecast from the
-- day before its start) and the next month and quarter after the latest snapshot (the live
-- forecast, from the latest snapshot).
--
-- Method: hazards per bucket (core.hazard_bucket: tenure months 0–11, 12+ pooled, the opening
-- base apart) over the trailing year, matched to the horizon of the grain: for a month, the
-- share of customers active at the start of a calendar month who are inactive at its end; for a
-- quarter, the share inactive three months later (so churn followed by a reactivation inside
-- the quarter is not a loss, exactly as in churned_from_start). Windows count when they start within the 12 months
-- before the origin and end on or before it; a bucket without exposure takes the pooled hazard.
-- A customer active at the origin gets the hazard of its tenure at the period's start, times the
-- chance of surviving until then (monthly hazards scaled to the days between the origin and the
-- period's start; 1 when the origin is the day before the start, as in every back-test).
-- Expected churned customers = Σ p; churned MRR = Σ p × MRR at origin; the variances are the
-- Poisson-binomial Σ p(1 − p) (× MRR²), which ignore the error of the hazards themselves.
-- Only data dated on or before the origin is read: the look-ahead rule of the back-test.
-- This statement computes the live forecasts and the back-tests of the periods that end after
-- $rebuild_from (a back-test reads no day after its period's last one; every period when
-- $rebuild_from is the minimum date). An incremental build adds the other rows of the current
-- table (marts/churn_forecasts_kept); marts/churn_forecasts replaces the table.
create or replace temp table churn_forecasts_rows as
with backtest_targets as (
    select
        'backtest' as forecast_kind,
        grain,
        period_start as target_start,
        period_end as target_end,
        cast(period_start - 1 as date) as origin_date
    from reporting.churn_by_period
    where grain in ('month', 'quarter') and is_complete and period_end > $rebuild_from
),

next_period_starts as (
    select
        grains.grain,
        snapshot_range.latest_snapshot_date,
        cast(
            core.period_start_of(grains.grain, snapshot_range.latest_snapshot_date)
            + case grains.grain when 'month' then interval 1 month else interval 3 month end
            as date
        ) as target_start
    from core.snapshot_range as snapshot_range
    cross join (select unnest(['month', 'quarter']) as grain) as grains
),

live_targets as (
    select
        'live' as forecast_kind,
        grain,
        target_start,
        cast(
            target_start + case grain when 'month' then interval 1 month else interval 3 month end
            as date
        ) as target_end,
        latest_snapshot_date as origin_date
    from next_period_starts
),

forecast_runs as (
    select * from backtest_targets
    union all
    select * from live_targets
),

forecast_horizons as (
    select
        *,
        case grain when 'month' then 1 else 3 end as horizon_months
    from forecast_runs
),

-- the months of the trailing years of the earliest origin on
customer_months_read as (
    select *
    from core.customer_months
    where month_start >= (select min(origin_date) from forecast_runs) + 1 - interval 12 month
),

exposure_windows as (
    select
        month_start,
        1 as horizon_months,
        core.hazard_bucket(is_opening, tenure_month) as hazard_bucket,
        not active_at_end as churned
    from customer_months_read
    where month_complete
    union all
    select
        month_start,
        3 as horizon_months,
        core.hazard_bucket(is_opening, tenure_month) as hazard_bucket,
        not active_three_months_later as churned
    from customer_months_read
    where three_months_complete
),

exposure_by_window as (
    select
        month_start,
        cast(month_start + to_months(horizon_months) as date) as window_end,
        horizon_months,
        hazard_bucket,
        count(*) as customers_exposed,
        count(*) filter (where churned) as customers_churned
    from exposure_windows
    group by all
),

-- per run: the windows of its own horizon (for the period) and of one month (for the days
-- between the origin and the period's start) that lie in the trailing year before the origin
trailing_exposure as (
    select
        runs.grain,
        runs.target_start,
        exposure.horizon_months,
        exposure.month_start,
        exposure.window_end,
        exposure.hazard_bucket,
        exposure.customers_exposed,
        exposure.customers_churned
    from forecast_horizons as runs
    inner join exposure_by_window as exposure
        on exposure.horizon_months in (1, runs.horizon_months)
        and exposure.window_end <= runs.origin_date + 1
        and exposure.month_start >= runs.origin_date + 1 - interval 12 month
),

trailing_year_totals as (
    select
        grain,
        target_start,
        horizon_months,
        min(month_start) as hazard_window_start,
        max(window_end) as hazard_window_end,
        sum(customers_exposed) as trailing_customer_windows,
        sum(customers_churned) / sum(customers_exposed) as pooled_hazard
    from trailing_exposure
    group by grain, target_start, horizon_months
),

bucket_hazards as (
    select
        grain,
        target_start,
        horizon_months,
        hazard_bucket,
        sum(customers_churned) / sum(customers_exposed) as hazard
    from trailing_exposure
    group by grain, target_start, horizon_months, hazard_bucket
),

origins as (
    select distinct origin_date
    from forecast_runs
),

customers_at_origin as (
    select
        customers.customer_id,
        customers.first_activation_date,
        customers.is_opening,
        origins.origin_date,
        movements.mrr_after as mrr_at_origin
    from core.customers as customers
    inner join origins
        on customers.first_activation_date <= origins.origin_date
    inner join core.customer_state_spans as movements
        on customers.customer_id = movements.customer_id
        and origins.origin_date >= movements.valid_from
        and origins.origin_date < movements.valid_until
    where movements.movement <> 'churn'
),

-- the calendar months between the origin and the period's start (live forecasts made mid-period)
months_before_target as (
    select
        runs.grain,
        runs.target_start,
        runs.origin_date,
        cast(series.month_start as date) as month_start,
        cast(series.month_start + interval 1 month as date) as month_end
    from forecast_runs as runs,
        unnest(
            generate_series(
                date_trunc('month', runs.origin_date + 1),
                date_trunc('month', runs.target_start - 1),
                interval 1 month
            )
        ) as series (month_start)
    where runs.origin_date + 1 < runs.target_start
),

slices_before_target as (
    select
        grain,
        target_start,
        origin_date,
        month_start,
        month_end - month_start as days_in_month,
        least(month_end, target_start) - greatest(month_start, cast(origin_date + 1 as date))
            as days_covered
    from months_before_target
),

customer_tenure_buckets as (
    select
        runs.grain,
        runs.target_start,
        runs.horizon_months,
        base.customer_id,
        base.mrr_at_origin,
        core.hazard_bucket(
            base.is_opening,
            greatest(0, core.tenure_month(base.first_activation_date, runs.target_start))
        ) as target_bucket
    from forecast_horizons as runs
    inner join customers_at_origin as base using (origin_date)
),

-- log of the chance to survive from the day after the origin to the day before the start
log_survival_before_target as (
    select
        slices.grain,
        slices.target_start,
        base.customer_id,
        core.order_free_sum(
            ln(greatest(1 - coalesce(bucket_hazards.hazard, totals.pooled_hazard), 1e-12))
            * slices.days_covered / slices.days_in_month
        ) as log_survival
    from slices_before_target as slices
    inner join customers_at_origin as base using (origin_date)
    inner join trailing_year_totals as totals
        on totals.grain = slices.grain
        and totals.target_start = slices.target_start
        and totals.horizon_months = 1
    left join bucket_hazards
        on bucket_hazards.grain = slices.grain
        and bucket_hazards.target_start = slices.target_start
        and bucket_hazards.horizon_months = 1
        and bucket_hazards.hazard_bucket = core.hazard_bucket(
            base.is_opening,
            greatest(0, core.tenure_month(base.first_activation_date, slices.month_start))
        )
    group by all
),

customer_churn_probabilities as (
    select
        customers.grain,
        customers.target_start,
        customers.customer_id,
        customers.mrr_at_origin,
        exp(coalesce(before_target.log_survival, 0))
        * coalesce(bucket_hazards.hazard, totals.pooled_hazard) as churn_probability
    from customer_tenure_buckets as customers
    inner join trailing_year_totals as totals
        on totals.grain = customers.grain
        and totals.target_start = customers.target_start
        and totals.horizon_months = customers.horizon_months
    left join bucket_hazards
        on bucket_hazards.grain = customers.grain
        and bucket_hazards.target_start = customers.target_start
        and bucket_hazards.horizon_months = customers.horizon_months
        and bucket_hazards.hazard_bucket = customers.target_bucket
    left join log_survival_before_target as before_target
        on before_target.grain = customers.grain
        and before_target.target_start = customers.target_start
        and before_target.customer_id = customers.customer_id
),

expected_churn as (
    select
        grain,
        target_start,
        core.order_free_sum(churn_probability) as expected_churned_customers,
        core.order_free_sum(churn_probability * (1 - churn_probability))
            as variance_churned_customers,
        core.order_free_sum(churn_probability * mrr_at_origin) as expected_churned_mrr,
        core.order_free_sum(
            churn_probability * (1 - churn_probability) * mrr_at_origin * mrr_at_origin
        ) as variance_churned_mrr
    from customer_churn_probabilities
    group by grain, target_start
),

-- what happened: customers active at the origin who are inactive at the period's end
customers_at_target_end as (
    select
        runs.grain,
        runs.target_start,
        base.customer_id,
        base.mrr_at_origin,
        movements.movement = 'churn' as churned
    from forecast_runs as runs
    inner join customers_at_origin as base using (origin_date)
    inner join core.customer_state_spans as movements
        on base.customer_id = movements.customer_id
        and cast(runs.target_end - 1 as date) >= movements.valid_from
        and cast(runs.target_end - 1 as date) < movements.valid_until
    where runs.forecast_kind = 'backtest'
),

actual_churn as (
    select
        grain,
        target_start,
        count(*) filter (where churned) as actual_churned_customers,
        coalesce(sum(mrr_at_origin) filter (where churned), 0) as actual_churned_mrr
    from customers_at_target_end
    group by grain, target_start
),

base_totals as (
    select
        runs.grain,
        runs.target_start,
        count(base.customer_id) as customers_at_origin,
        coalesce(sum(base.mrr_at_origin), 0) as mrr_at_origin
    from forecast_runs as runs
    left join customers_at_origin as base using (origin_date)
    group by runs.grain, runs.target_start
),

final as (
    select
        runs.forecast_kind,
        runs.grain,
        runs.target_start as period_start,
        runs.target_end as period_end,
        runs.origin_date,
        cast(base_totals.customers_at_origin as bigint) as customers_at_origin,
        cast(base_totals.mrr_at_origin as bigint) as mrr_at_origin,
        totals.hazard_window_start,
        totals.hazard_window_end,
        cast(totals.trailing_customer_windows as bigint) as trailing_customer_windows,
        totals.pooled_hazard,
        case when totals.pooled_hazard is not null
            then coalesce(expected_churn.expected_churned_customers, 0.0) end
            as expected_churned_customers,
        case when totals.pooled_hazard is not null
            then coalesce(expected_churn.variance_churned_customers, 0.0) end
            as variance_churned_customers,
        case when totals.pooled_hazard is not null
            then coalesce(expected_churn.expected_churned_mrr, 0.0) end as expected_churned_mrr,
        case when totals.pooled_hazard is not null
            then coalesce(expected_churn.variance_churned_mrr, 0.0) end as variance_churned_mrr,
        case when runs.forecast_kind = 'backtest'
            then cast(coalesce(actual_churn.actual_churned_customers, 0) as bigint) end
            as actual_churned_customers,
        case when runs.forecast_kind = 'backtest'
            then cast(coalesce(actual_churn.actual_churned_mrr, 0) as bigint) end
            as actual_churned_mrr
    from forecast_horizons as runs
    inner join base_totals using (grain, target_start)
    left join trailing_year_totals as totals
        on totals.grain = runs.grain
        and totals.target_start = runs.target_start
        and totals.horizon_months = runs.horizon_months
    left join expected_churn using (grain, target_start)
    left join actual_churn using (grain, target_start)
)

select * from final
