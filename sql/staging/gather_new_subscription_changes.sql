-- A chunk's compared changes into the run window's (window_subscription_changes.sql).
insert into window_subscription_changes by name
select * from new_subscription_changes
