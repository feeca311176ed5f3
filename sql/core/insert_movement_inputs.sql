insert into core.movement_inputs
select snapshot_date, status, content_fingerprint, $settings_key as settings_key
from raw.snapshot_deliveries
where snapshot_date <= $window_end
