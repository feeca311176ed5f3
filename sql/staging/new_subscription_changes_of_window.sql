-- The run window's gathered changes as the changes to store (store_new_subscription_changes.sql).
create or replace temp table new_subscription_changes as
select * from window_subscription_changes
