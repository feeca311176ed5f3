-- On an incremental build: the periods of reporting.churn_by_period that end before
-- $rebuild_from, unchanged, next to the recomputed ones (marts/churn_by_period_computed); the
-- next statement keeps their computed_at since their values are equal.
insert into churn_by_period_computed
select * exclude (computed_at)
from reporting.churn_by_period
where period_start < core.period_start_of(grain, $rebuild_from)
