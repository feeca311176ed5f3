-- Each (snapshot date, subscription) with a rejected row, built once per derivation and read
-- by every window's window_carried_forward_rows. In lake mode raw.rejected_rows is a view that
-- applies the history rule to every row of the lake (about 3 s at 21M rows), which each of a
-- backfill's windows otherwise read again.
create or replace temp table rejected_subscription_days as
select distinct snapshot_date, subscription_id
from raw.rejected_rows
where subscription_id is not null
