-- Customer movements (METRICS.md §3), plus internal `opening` rows for the opening base.
-- `observed_on` is the snapshot on which the new state was first seen; it owns the row
-- (re-running a snapshot date replaces exactly the rows observed on it).
create table if not exists core.customer_movements (
    observed_on date not null,
    previous_snapshot_date date,
    customer_id varchar not null,
    movement_date date not null,
    movement varchar not null,          -- opening | new | reactivation | churn | expansion | contraction
    mrr_before bigint,                  -- NULL when inactive before
    mrr_after bigint,                   -- NULL when inactive after
    reason_raw varchar,                 -- churn only: reason of the deciding stopped subscription
    stopped_in_dunning boolean,         -- churn only: a stopped subscription was past_due or went unpaid
    deciding_subscription_id varchar    -- churn only
)
