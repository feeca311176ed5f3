-- What insert_subscription_changes.sql compares after a run window: the rows of the first file
-- date after it, captured by subscription_rows_after_window.sql.
create or replace temp view incoming_rows as
select * from subscription_rows_after_window
