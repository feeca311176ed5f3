-- Rows where mrr_end <> mrr_start + new + reactivation + expansion − contraction − churned.
select grain, period_start, mrr_start, mrr_end
from reporting.churn_by_period
where mrr_end <> mrr_start + new_mrr + reactivation_mrr + expansion_mrr - contraction_mrr - churned_mrr
order by grain, period_start
