-- One date's file of the lake layer snapshot_deliveries (written last: it commits the date).
-- Counts are before the history rule; the threshold is kept so that the raw view can
-- re-decide `refused` once that rule has been applied.
select
    * exclude (snapshot_date),
    cast($quarantine_threshold as double) as quarantine_threshold
from raw.snapshot_deliveries
where snapshot_date = $day
