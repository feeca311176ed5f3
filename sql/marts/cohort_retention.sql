-- reporting.cohort_retention: the recomputed cells and, on an incremental build, the kept ones
-- (marts/cohort_retention_recomputed documents the table).
create or replace table reporting.cohort_retention as
select * from cohort_retention_rows
-- on equal cohort_start the opening base comes first
order by cohort_grain, cohort_start, cohort <> 'opening', period_number
