-- Lake mode's raw.rejected_rows: per-row rejects plus the history rule's quarantine.
create or replace view raw.rejected_rows as
select
    snapshot_date, source_file, source_row, subscription_id, column_name, value, rule, raw_row
from raw.lake_rejected_rows
union all
select
    snapshot_date, source_file, source_row, subscription_id, column_name, value, rule, raw_row
from raw.lake_changed_customer_rows
