-- The snapshot dates the raw-layer checks look at: the run's own dates when the run is known
-- (window_start and window_end, both inclusive), else those of the latest ingestion. With
-- parallel lake-mode runs "the latest ingestion" may be another run's, hence the window.
create or replace macro raw.checked_snapshot_dates(window_start, window_end) as table
select snapshot_date
from raw.snapshot_deliveries
where case
    when window_start is null
        then ingested_at = (select max(ingested_at) from raw.snapshot_deliveries)
    else snapshot_date between window_start and window_end
end
