-- Quarantines, in `validated_rows`, every otherwise clean row whose subscription names a
-- different customer_id than its latest earlier loaded row: the row on the latest date
-- before $window_start in raw.subscription_snapshots, or, for a subscription first seen in
-- this window, its earliest clean row of the window. A subscription belongs to one paying
-- account; a changed customer_id is an export or mapping error, and the subscription keeps
-- its previous state (and customer) on that date, like any quarantined row.
--
-- Comparing with that one "customer of record" is the same as comparing each row with the
-- latest earlier *loaded* row: a row naming another customer is never loaded, so the
-- latest loaded row always names the customer of record. Runs after validated_rows.sql and
-- before the accounting, so rows_read = rows_loaded + rows_rejected still holds.
update validated_rows
set rule = 'subscription_changed_customer', rule_column = 'customer_id'
from (
    with customer_before_window as (
        select subscription_id, arg_max(customer_id, snapshot_date) as customer_id
        from raw.subscription_snapshots
        where snapshot_date < $window_start
        group by subscription_id
    ),

    first_customer_in_window as (
        select
            subscription_id_clean as subscription_id,
            arg_min(customer_id_clean, snapshot_date_of_file) as customer_id
        from validated_rows
        where rule is null
        group by subscription_id_clean
    ),

    customer_of_record as (
        select
            first_customer_in_window.subscription_id,
            coalesce(customer_before_window.customer_id, first_customer_in_window.customer_id) as customer_id
        from first_customer_in_window
        left join customer_before_window using (subscription_id)
    ),

    rows_naming_another_customer as (
        select
            validated_rows.snapshot_date_of_file,
            validated_rows.source_file,
            validated_rows.source_row
        from validated_rows
        inner join customer_of_record
            on validated_rows.subscription_id_clean = customer_of_record.subscription_id
        where validated_rows.rule is null
            and validated_rows.customer_id_clean <> customer_of_record.customer_id
    )

    select * from rows_naming_another_customer
) as changed
where validated_rows.snapshot_date_of_file = changed.snapshot_date_of_file
    and validated_rows.source_file = changed.source_file
    and validated_rows.source_row = changed.source_row
