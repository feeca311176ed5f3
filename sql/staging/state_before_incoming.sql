-- Each subscription listed on $previous_file_date (the file date before the first incoming
-- one; NULL: none), with its customer and fingerprint: what the first incoming date is compared
-- with (insert_subscription_changes.sql, insert_subscription_changes_of_chunk.sql).
create or replace temp table state_before_incoming as
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
)

select * from stored_versions_before_window
union all
select subscription_id, customer_id, row_fingerprint
from latest_known_change_in_window
where is_listed
