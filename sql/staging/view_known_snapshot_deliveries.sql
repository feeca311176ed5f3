-- The deliveries as they will be once the run window is stored: raw.snapshot_deliveries outside
-- the window (the temp table `ingestion_window`) and the window's gathered so far.
create or replace temp view known_snapshot_deliveries as
select stored.*
from raw.snapshot_deliveries as stored
where not coalesce(
    stored.snapshot_date between (select window_start from ingestion_window)
    and (select window_end from ingestion_window),
    false
)
union all
select * from window_snapshot_deliveries
