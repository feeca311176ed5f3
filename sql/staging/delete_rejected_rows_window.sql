delete from raw.rejected_rows where snapshot_date between $window_start and $window_end
