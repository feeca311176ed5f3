delete from raw.snapshot_deliveries where snapshot_date between $window_start and $window_end
