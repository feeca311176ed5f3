-- Lake mode's raw.subscription_snapshots: the lake's clean rows that name their
-- subscription's customer of record (the others are in raw.rejected_rows).
create or replace view raw.subscription_snapshots as
select
    lake_rows.snapshot_date,
    lake_rows.subscription_id,
    lake_rows.customer_id,
    lake_rows.status,
    lake_rows.status_raw,
    lake_rows.stops_involuntarily,
    lake_rows.mrr_cents,
    lake_rows.currency,
    lake_rows.plan,
    lake_rows.started_at,
    lake_rows.canceled_at,
    lake_rows.ended_at,
    lake_rows.cancel_reason,
    lake_rows.source_file,
    lake_rows.source_row
from raw.lake_subscription_snapshots as lake_rows
inner join raw.subscription_customer_of_record as customer_of_record
    on lake_rows.subscription_id = customer_of_record.subscription_id
    and lake_rows.customer_id = customer_of_record.customer_id
