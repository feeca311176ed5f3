-- reporting.kpis_by_period: companion KPIs per grain and period (METRICS.md §7).
-- ARPA = MRR at the end / paying customers at the end (held customers excluded);
-- customer lifetime value = ARPA / mean monthly logo_churn_rate of the six most recent
-- complete months ending no later than the period (NULL when that mean is 0 or fewer than six
-- such months exist); money in minor units as DOUBLE; quick ratio = (new + expansion + reactivation MRR) / (churned + contraction MRR).
create or replace table reporting.kpis_by_period as
with periods as (
    select
        grain,
        period_start,
        period_end,
        is_complete,
        mrr_end,
        new_mrr,
        expansion_mrr,
        reactivation_mrr,
        churned_mrr,
        contraction_mrr
    from reporting.churn_by_period
),

paying_at_end as (
    select
        periods.grain,
        periods.period_start,
        totals.paying_customers
    from periods
    inner join core.daily_customer_totals as totals
        on totals.day = least(
            cast(periods.period_end - 1 as date),
            (select max(day) from core.daily_customer_totals)
        )
),

complete_months as (
    select period_start, period_end, logo_churn_rate
    from reporting.churn_by_period
    where grain = 'month' and is_complete
),

-- the six most recent complete months that end no later than the period
trailing_months as (
    select
        periods.grain,
        periods.period_start,
        complete_months.logo_churn_rate,
        row_number() over (
            partition by periods.grain, periods.period_start
            order by complete_months.period_end desc
        ) as months_back
    from periods
    inner join complete_months
        on complete_months.period_end <= periods.period_end
),

trailing_churn as (
    select
        grain,
        period_start,
        count(*) as months_in_window,
        avg(logo_churn_rate) as mean_monthly_logo_churn
    from trailing_months
    where months_back <= 6
    group by grain, period_start
),

final as (
    select
        periods.grain,
        periods.period_start,
        periods.period_end,
        periods.is_complete,
        cast(paying_at_end.paying_customers as bigint) as paying_customers_end,
        periods.mrr_end / nullif(paying_at_end.paying_customers, 0) as arpa,
        trailing_churn.mean_monthly_logo_churn as trailing_6m_monthly_logo_churn,
        case
            when trailing_churn.months_in_window = 6
                then (periods.mrr_end / nullif(paying_at_end.paying_customers, 0))
                    / nullif(trailing_churn.mean_monthly_logo_churn, 0)
        end as customer_lifetime_value,
        (periods.new_mrr + periods.expansion_mrr + periods.reactivation_mrr)
            / nullif(periods.churned_mrr + periods.contraction_mrr, 0) as quick_ratio
    from periods
    inner join paying_at_end using (grain, period_start)
    left join trailing_churn using (grain, period_start)
)

select * from final
order by grain, period_start
