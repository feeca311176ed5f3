-- An empty reporting.churn_by_period on the first run, so that the next statement can
-- compare with the previous values.
create table if not exists reporting.churn_by_period as
select *, cast(null as timestamp) as computed_at
from churn_by_period_computed
where false
