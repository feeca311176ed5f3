-- Lake mode: the clean rows whose subscription names another customer than its customer of
-- record, quarantined as `subscription_changed_customer` like warehouse mode does on loading.
create or replace view raw.lake_changed_customer_rows as
select
    lake_rows.snapshot_date,
    lake_rows.source_file,
    lake_rows.source_row,
    lake_rows.subscription_id,
    'customer_id' as column_name,
    lake_rows.customer_id_value as value,
    'subscription_changed_customer' as rule,
    lake_rows.raw_row
from raw.lake_subscription_snapshots as lake_rows
inner join raw.subscription_customer_of_record as customer_of_record
    on lake_rows.subscription_id = customer_of_record.subscription_id
    and lake_rows.customer_id <> customer_of_record.customer_id
