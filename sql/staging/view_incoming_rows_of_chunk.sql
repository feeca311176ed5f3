-- What insert_subscription_changes.sql compares (and lake mode's insert_subscription_snapshots.sql
-- stores): a chunk's clean rows, canonical.
create or replace temp view incoming_rows as
select
    snapshot_date_of_file as snapshot_date,
    subscription_id_clean as subscription_id,
    customer_id_clean as customer_id,
    status_canonical as status,
    status_raw_clean as status_raw,
    stops_involuntarily_flag as stops_involuntarily,
    cast(mrr_minor_units as bigint) as mrr_cents,
    currency_clean as currency,
    plan_clean as plan,
    started_at_date as started_at,
    canceled_at_date as canceled_at,
    ended_at_date as ended_at,
    cancel_reason_clean as cancel_reason,
    staged_files.source_file,
    source_row,
    row_fingerprint
from validated_rows
inner join staged_files using (file_number)
where rule is null
