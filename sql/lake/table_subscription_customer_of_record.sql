-- The history rule of lake mode: a subscription belongs to the customer of its earliest clean
-- row, over every date in the lake. Warehouse mode applies the same rule while loading, date
-- after date (staging/quarantine_changed_customers.sql); here it is applied on reading, so
-- dates can be written in any order, by parallel runs, and give the same tables.
-- A table, rebuilt each time a step opens the lake (lake.refresh_raw_layer): every read of
-- raw.subscription_snapshots needs it, and a view would scan the whole lake each time.
create or replace table raw.subscription_customer_of_record as
select
    subscription_id,
    arg_min(customer_id, snapshot_date) as customer_id
from raw.lake_subscription_snapshots
group by subscription_id
