-- Lake mode's in-memory loading table (warehouse mode stores changes instead: view_subscription_snapshots.sql):
-- one row per subscription per snapshot date, in the canonical schema of METRICS.md §1.
-- Money is integer minor units of the reporting currency; dates are business-time dates.
create table if not exists raw.subscription_snapshots (
    snapshot_date date not null,
    subscription_id varchar not null,
    customer_id varchar not null,
    status varchar not null,            -- trialing | active | past_due | paused | canceled
    status_raw varchar not null,        -- the status text as exported
    stops_involuntarily boolean not null, -- status maps to canceled through dunning (e.g. unpaid)
    mrr_cents bigint not null,
    currency varchar not null,
    plan varchar,
    started_at date,
    canceled_at date,
    ended_at date,
    cancel_reason varchar,
    source_file varchar not null,
    source_row bigint not null
)
