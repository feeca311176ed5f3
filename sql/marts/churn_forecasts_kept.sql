-- On an incremental build: the back-tests of periods ending on or before $rebuild_from,
-- unchanged, next to the recomputed rows (marts/churn_forecasts_recomputed).
insert into churn_forecasts_rows
select *
from core.churn_forecasts
where forecast_kind = 'backtest' and period_end <= $rebuild_from
