-- The changes of `incoming_rows` (the clean rows of some file dates, listed with each one's
-- previous file date in `incoming_dates`), as `new_subscription_changes`:
-- - a listed row where the subscription's row differs from its row on the previous file date,
--   or it had none there;
-- - an unlisted row where the subscription was listed on the previous file date and is not on
--   this one (absent from the file, or its row quarantined).
-- The first incoming date ($first_incoming_date) is compared with each subscription's listed
-- version on the file date before it (state_before_incoming.sql); the others with the incoming
-- rows. Each row is compared with one other by fingerprint, in a hash join: no sort over the
-- history. A chunk of staged files is compared by runs instead
-- (insert_subscription_changes_of_chunk.sql); this compares rows read back from the warehouse.
create or replace temp table new_subscription_changes as
with stored_rows_on_previous_file_date as (
    select cast($first_incoming_date as date) as snapshot_date, *
    from state_before_incoming
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
