-- The subscription changes as they will be once the run window is stored (warehouse mode):
-- raw.subscription_changes outside the window (the temp table `ingestion_window`) and the
-- window's gathered so far. Without valid_until maintained for the latter, a state on a date is
-- each subscription's latest change on or before it.
create or replace temp view known_subscription_changes as
select stored.*
from raw.subscription_changes as stored
where not coalesce(
    stored.changed_on between (select window_start from ingestion_window)
    and (select window_end from ingestion_window),
    false
)
union all
select * from window_subscription_changes
