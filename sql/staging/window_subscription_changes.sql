-- A run window's subscription changes, gathered chunk by chunk before the window's one
-- transaction replaces raw.subscription_changes' rows of the window with them (warehouse mode).
create or replace temp table window_subscription_changes as
select * from raw.subscription_changes
limit 0
