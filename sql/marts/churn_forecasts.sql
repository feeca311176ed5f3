-- core.churn_forecasts: the recomputed rows and, on an incremental build, the kept ones
-- (marts/churn_forecasts_recomputed documents the table).
create or replace table core.churn_forecasts as
select * from churn_forecasts_rows
order by forecast_kind, grain, period_start
