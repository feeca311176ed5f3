-- Periods whose reason categories do not add up to churned_customers and churned_mrr.
with reason_sums as (
    select grain, period_start, sum(churned_customers) as customers, sum(churned_mrr) as mrr
    from reporting.churn_reasons_by_period
    group by all
)

select
    periods.grain, periods.period_start, periods.churned_customers, reason_sums.customers,
    periods.churned_mrr, reason_sums.mrr
from reporting.churn_by_period as periods
left join reason_sums using (grain, period_start)
where periods.churned_customers <> coalesce(reason_sums.customers, 0)
    or periods.churned_mrr <> coalesce(reason_sums.mrr, 0)
order by periods.grain, periods.period_start
