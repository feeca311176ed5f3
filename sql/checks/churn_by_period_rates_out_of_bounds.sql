-- Rows with a rate outside its bounds: logo churn rate and GRR in [0, 1], NRR and the
-- exposure-based rate not negative, churned-from-start not above the distinct churned.
select grain, period_start, logo_churn_rate, grr, nrr
from reporting.churn_by_period
where logo_churn_rate not between 0 and 1
    or grr not between 0 and 1
    or nrr < 0
    or customer_days_churn_rate < 0
    or churned_from_start > churned_distinct
order by grain, period_start
