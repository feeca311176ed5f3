-- A chunk's compared changes into the run window's (window_subscription_changes.sql).
insert into window_subscription_changes
select * from new_subscription_changes
