-- One date's file of the lake layer rejected_rows: the rows that broke a per-row rule.
select * exclude (snapshot_date)
from raw.rejected_rows
where snapshot_date = $day
order by source_file, source_row
