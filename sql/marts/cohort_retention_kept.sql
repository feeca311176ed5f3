-- On an incremental build: the cells of periods ending on or before $rebuild_from, unchanged,
-- next to the recomputed ones (marts/cohort_retention_recomputed).
insert into cohort_retention_rows
select *
from reporting.cohort_retention
where period_end <= $rebuild_from
