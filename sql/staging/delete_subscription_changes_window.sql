-- A run window's changes, and those of the first file date after it, which are taken anew.
delete from raw.subscription_changes
where changed_on between $window_start and $window_end
    or changed_on = $boundary_date
