-- What insert_subscription_changes.sql compares when a warehouse built before change storage is
-- converted: every row of its old table (renamed raw.subscription_snapshots_before_changes).
create or replace temp view incoming_rows as
select
    *,
    raw.subscription_row_fingerprint(
        customer_id, status, status_raw, stops_involuntarily, mrr_cents, currency, plan,
        started_at, canceled_at, ended_at, cancel_reason
    ) as row_fingerprint
from raw.subscription_snapshots_before_changes
