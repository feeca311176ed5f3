-- Compared changes (`new_subscription_changes`, insert_subscription_changes.sql) into
-- raw.subscription_changes: the window's, the first file date's after it, or a converted table's.
insert into raw.subscription_changes by name
select * from new_subscription_changes
