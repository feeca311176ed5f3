-- The subscriptions with a change on the dates just inserted (`incoming_dates`).
create or replace temp table touched_subscriptions as
select distinct subscription_id
from raw.subscription_changes
where changed_on in (select snapshot_date from incoming_dates)
