delete from raw.subscription_snapshots where snapshot_date between $window_start and $window_end
