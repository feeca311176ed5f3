-- Before a run window's changes are deleted: the subscriptions' rows on the first file date
-- after the window ($boundary_date), as the stored versions give them. The changes stored on
-- that date were taken against the window's old last day; after the window is loaded again they
-- are taken anew against its new last day (insert_subscription_changes.sql over these rows).
create or replace temp table subscription_rows_after_window as
select
    cast($boundary_date as date) as snapshot_date,
    * exclude (changed_on, is_listed, valid_until)
from raw.subscription_changes
where is_listed
    and changed_on <= $boundary_date
    and valid_until > $boundary_date
