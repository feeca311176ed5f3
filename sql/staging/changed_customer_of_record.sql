-- The history rule, step 1 of 2: a subscription keeps its customer_id. Its "customer of
-- record" is the customer of its latest earlier loaded row: the row on the latest date before
-- the chunk in raw.subscription_snapshots, or, for a subscription first seen in this chunk,
-- its earliest clean row of the chunk (read from the rows validation read, each the earliest
-- of its text: validation_representatives.sql). A subscription belongs to one paying account; a changed
-- customer_id is an export or mapping error, and the subscription keeps its previous state (and
-- customer) on that date, like any quarantined row. This table holds the customer of record of
-- the subscriptions of the chunk with a clean row naming another customer (usually
-- none); quarantine_changed_customers.sql (step 2) quarantines those rows.
--
-- Comparing with that one "customer of record" is the same as comparing each row with the
-- latest earlier *loaded* row: a row naming another customer is never loaded, so the
-- latest loaded row always names the customer of record. Runs after validated_representatives.sql and
-- before the accounting, so rows_read = rows_loaded + rows_rejected still holds.
--
-- The latest earlier row's customer is that of the subscription's latest change stored on or
-- before $previous_loaded_date, the latest date before the chunk that has loaded rows (NULL
-- when none): a change row that ends a listing keeps the customer of the last listed version,
-- so one pass over the known changes (known_subscription_changes: changes, not every row) finds it for every
-- subscription, including one that comes back after a gap.
create or replace temp table changed_customer_of_record as
with customer_before_window as (
    select subscription_id, arg_max(customer_id, changed_on) as customer_id
    from known_subscription_changes
    where changed_on <= $previous_loaded_date
        and subscription_id in (select subscription_id_clean from validated_representatives where rule is null)
    group by subscription_id
),

customers_in_window as (
    select
        subscription_id_clean as subscription_id,
        arg_min(customer_id_clean, snapshot_date_of_file) as first_customer_id,
        min(customer_id_clean) as lowest_customer_id,
        max(customer_id_clean) as highest_customer_id
    from validated_representatives
    where rule is null
    group by subscription_id_clean
),

-- Only a subscription whose rows name two customers, or one other than before the window,
-- can have a row to quarantine: the join below then reads the window's rows against a few
-- subscriptions instead of all of them.
customer_of_record_where_a_row_differs as (
    select
        customers_in_window.subscription_id,
        coalesce(customer_before_window.customer_id, customers_in_window.first_customer_id) as customer_id
    from customers_in_window
    left join customer_before_window using (subscription_id)
    where customers_in_window.lowest_customer_id <> customers_in_window.highest_customer_id
        or customer_before_window.customer_id <> customers_in_window.lowest_customer_id
)

select * from customer_of_record_where_a_row_differs
