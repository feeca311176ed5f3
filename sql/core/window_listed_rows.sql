-- Warehouse mode: the subscription rows of each compared customer and date
-- (window_compared_customer_dates), read from the versions valid on that date instead of
-- expanding every subscription over every date, and the rows standing in for its
-- quarantined ones (window_carried_forward_rows). Lake mode reads every row of the window's
-- dates: lake/window_listed_rows.sql.
create or replace temp view window_listed_rows as
with loaded_rows as (
    select
        compared.snapshot_date,
        versions.subscription_id,
        versions.customer_id,
        versions.status,
        versions.stops_involuntarily,
        versions.mrr_cents,
        versions.cancel_reason,
        versions.canceled_at,
        versions.ended_at
    from window_compared_customer_dates as compared
    inner join raw.subscription_changes as versions
        on versions.customer_id = compared.customer_id
        and versions.changed_on <= compared.snapshot_date
        and versions.valid_until > compared.snapshot_date
    where versions.is_listed
),

carried_forward_rows as (
    select carried.*
    from window_carried_forward_rows as carried
    semi join window_compared_customer_dates using (snapshot_date, customer_id)
)

select * from loaded_rows
union all by name
select * from carried_forward_rows
