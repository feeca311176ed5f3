-- The changes of `incoming_rows` (the clean rows of some file dates, listed with each one's
-- previous file date in `incoming_dates`), as `new_subscription_changes`:
-- - a listed row where the subscription's row differs from its row on the previous file date,
--   or it had none there;
-- - an unlisted row where the subscription was listed on the previous file date and is not on
--   this one (absent from the file, or its row quarantined).
-- The first incoming date ($first_incoming_date) is compared with each subscription's listed
-- version on $previous_file_date (NULL: nothing before); the others with the incoming rows. Each row is compared with one other by fingerprint, in a hash
-- join: no sort over the history.
create or replace temp table new_subscription_changes as
-- before the run window (`ingestion_window`: a nightly run's only case), the stored versions
-- valid on the date, their valid_until being maintained: no aggregate over the history
with stored_versions_before_window as (
    select subscription_id, customer_id, row_fingerprint
    from raw.subscription_changes
    where is_listed
        and changed_on <= $previous_file_date
        and valid_until > $previous_file_date
        and coalesce($previous_file_date < (select window_start from ingestion_window), false)
),

-- inside it, each subscription's latest change known so far (gathered or stored)
latest_known_change_in_window as (
    select
        subscription_id,
        arg_max(is_listed, changed_on) as is_listed,
        arg_max(customer_id, changed_on) as customer_id,
        arg_max(row_fingerprint, changed_on) as row_fingerprint
    from known_subscription_changes
    where changed_on <= $previous_file_date
        and coalesce($previous_file_date >= (select window_start from ingestion_window), false)
    group by subscription_id
),

stored_rows_on_previous_file_date as (
    select cast($first_incoming_date as date) as snapshot_date, *
    from stored_versions_before_window
    union all
    select cast($first_incoming_date as date) as snapshot_date, subscription_id, customer_id, row_fingerprint
    from latest_known_change_in_window
    where is_listed
),

incoming_rows_on_previous_file_date as (
    select
        incoming_dates.snapshot_date,
        incoming.subscription_id,
        incoming.customer_id,
        incoming.row_fingerprint
    from incoming_dates
    inner join incoming_rows as incoming
        on incoming.snapshot_date = incoming_dates.previous_file_date
),

rows_on_previous_file_date as (
    select * from stored_rows_on_previous_file_date
    union all
    select * from incoming_rows_on_previous_file_date
),

-- one full outer join: a row that differs or is new (a listed change), and a subscription of
-- the previous file date missing on this one (an unlisted change)
compared_rows as (
    select
        coalesce(incoming.snapshot_date, previous.snapshot_date) as changed_on,
        coalesce(incoming.subscription_id, previous.subscription_id) as subscription_id,
        incoming.subscription_id is not null as is_listed,
        date '9999-12-31' as valid_until,  -- set by refresh_subscription_change_validity.sql
        coalesce(incoming.customer_id, previous.customer_id) as customer_id,
        incoming.status,
        incoming.status_raw,
        incoming.stops_involuntarily,
        incoming.mrr_cents,
        incoming.currency,
        incoming.plan,
        incoming.started_at,
        incoming.canceled_at,
        incoming.ended_at,
        incoming.cancel_reason,
        incoming.source_file,
        incoming.source_row,
        incoming.row_fingerprint
    from incoming_rows as incoming
    full outer join rows_on_previous_file_date as previous
        on incoming.snapshot_date = previous.snapshot_date
        and incoming.subscription_id = previous.subscription_id
    where incoming.row_fingerprint is distinct from previous.row_fingerprint
)

select * from compared_rows
