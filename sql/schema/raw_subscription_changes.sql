-- Warehouse mode stores the snapshots as changes: one row per subscription per snapshot date on
-- which its canonical row differs from its row on the previous *file date* (a date whose
-- delivery is loaded or refused: a date with a file), including the file dates on which it is
-- no longer listed (`is_listed` false: absent from the file, or its row quarantined). Each row
-- is a version of the subscription, valid on the file dates in [changed_on, valid_until).
-- raw.subscription_snapshots (schema/view_subscription_snapshots.sql) expands the versions over
-- the file dates; ingestion keeps `valid_until` up to date within its transaction.
create table if not exists raw.subscription_changes (
    changed_on date not null,
    subscription_id varchar not null,
    is_listed boolean not null,
    valid_until date not null,          -- the subscription's next changed_on; 9999-12-31 when none
    customer_id varchar not null,       -- when not listed: the customer of the last listed version
    status varchar,                     -- this and the columns below: NULL when not listed
    status_raw varchar,
    stops_involuntarily boolean,
    mrr_cents bigint,
    currency varchar,
    plan varchar,
    started_at date,
    canceled_at date,
    ended_at date,
    cancel_reason varchar,
    source_file varchar,                -- where this version was read: the file of changed_on
    source_row bigint,
    row_fingerprint ubigint             -- raw.subscription_row_fingerprint of the canonical values
)
