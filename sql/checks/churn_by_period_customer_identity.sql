-- Rows where customers_end <> customers_start + new + reactivated − churned.
select
    grain, period_start, customers_start, new_customers, reactivated_customers,
    churned_customers, customers_end
from reporting.churn_by_period
where customers_end <> customers_start + new_customers + reactivated_customers - churned_customers
order by grain, period_start
