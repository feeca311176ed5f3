-- A subscription row's canonical values as one 64-bit hash: ingestion compares each row with the
-- subscription's row on the previous file date by this, and stores the row only when it differs.
-- Two different rows with the same hash (odds about 1 in 10^19 per comparison) would be taken
-- as unchanged. Typed arguments: the same values give the same hash from any query. A DuckDB
-- release that hashes differently only stores one redundant version per subscription on the
-- first date loaded after it: the rows read through raw.subscription_snapshots stay the same.
create or replace macro raw.subscription_row_fingerprint(
    customer_id, status, status_raw, stops_involuntarily, mrr_cents, currency, plan,
    started_at, canceled_at, ended_at, cancel_reason
) as hash(
    cast(customer_id as varchar), cast(status as varchar), cast(status_raw as varchar),
    cast(stops_involuntarily as boolean), cast(mrr_cents as bigint), cast(currency as varchar),
    cast(plan as varchar), cast(started_at as date), cast(canceled_at as date),
    cast(ended_at as date), cast(cancel_reason as varchar)
)
