-- The subscriptions with a change stored in the run window or on the first file date after it:
-- their versions' valid_until is recomputed once those changes are deleted.
create or replace temp table touched_subscriptions as
select distinct subscription_id
from raw.subscription_changes
where changed_on between $window_start and $window_end
    or changed_on = $boundary_date
