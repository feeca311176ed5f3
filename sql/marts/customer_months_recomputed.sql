-- core.customer_months: one row per customer and calendar month at whose start the customer was
-- active (the monthly exposure unit of the tenure hazards, the seasonality and the forecast).
-- Months are those whose start state is known (a snapshot on or before the day before the 1st)
-- and that have begun by the latest snapshot. `active_at_end` is the state at the end of the
-- month, or at the latest snapshot for the month that holds it (`month_complete` false).
-- Summed over a month, the rows give churn_by_period's customers_start and churned_from_start.
-- Tenure month = whole months from the first paying day to the 1st of the month (a customer
-- who first paid on Jan 20 is in tenure month 0 in February); it never resets on reactivation.
-- The opening base has no known first paying day: tenure_month is NULL (is_opening).
-- `active_three_months_later` is the same at the end of the month two months on (the horizon of
-- a quarter-ahead forecast), `three_months_complete` whether that day has a snapshot behind it.
-- This statement computes the rows of the months that can depend on a day from $rebuild_from on
-- (the month's start + 3 months − 1 day, its latest state day, is on or after it; every month
-- when $rebuild_from is the minimum date). A full build replaces the table with them
-- (marts/customer_months), an incremental one replaces those months' rows
-- (marts/customer_months_delete_recomputed, marts/customer_months_insert_recomputed).
create or replace temp table customer_months_rows as
with calendar_months as (
    select
        cast(series.month_start as date) as month_start,
        cast(series.month_start + interval 1 month as date) as month_end,
        snapshot_range.latest_snapshot_date
    from core.snapshot_range as snapshot_range,
        unnest(
            generate_series(
                date_trunc('month', snapshot_range.first_snapshot_date) + interval 1 month,
                date_trunc('month', snapshot_range.latest_snapshot_date),
                interval 1 month
            )
        ) as series (month_start)
    where series.month_start + interval 3 month - interval 1 day >= $rebuild_from
),

customer_month_grid as (
    select
        customers.customer_id,
        customers.first_activation_date,
        customers.is_opening,
        calendar_months.month_start,
        calendar_months.month_end,
        cast(calendar_months.month_start - 1 as date) as start_state_day,
        least(cast(calendar_months.month_end - 1 as date), calendar_months.latest_snapshot_date)
            as end_state_day,
        least(
            cast(calendar_months.month_start + interval 3 month - interval 1 day as date),
            calendar_months.latest_snapshot_date
        ) as three_months_end_state_day,
        calendar_months.month_end - 1 <= calendar_months.latest_snapshot_date as month_complete,
        calendar_months.month_start + interval 3 month - interval 1 day
        <= calendar_months.latest_snapshot_date as three_months_complete
    from core.customers as customers
    inner join calendar_months
        on customers.first_activation_date < calendar_months.month_start
),

-- the state left by the last movement on or before the day before the 1st (its span holds that day)
state_at_month_start as (
    select
        grid.*,
        movements.movement <> 'churn' as active_at_start,
        movements.mrr_after as mrr_start
    from customer_month_grid as grid
    inner join core.customer_state_spans as movements
        on grid.customer_id = movements.customer_id
        and grid.start_state_day >= movements.valid_from
        and grid.start_state_day < movements.valid_until
),

state_at_month_end as (
    select
        exposed.*,
        movements.movement <> 'churn' as active_at_end,
        case when movements.movement <> 'churn' then movements.mrr_after end as mrr_end
    from state_at_month_start as exposed
    inner join core.customer_state_spans as movements
        on exposed.customer_id = movements.customer_id
        and exposed.end_state_day >= movements.valid_from
        and exposed.end_state_day < movements.valid_until
    where exposed.active_at_start
),

state_three_months_later as (
    select
        exposed.*,
        movements.movement <> 'churn' as active_three_months_later
    from state_at_month_end as exposed
    inner join core.customer_state_spans as movements
        on exposed.customer_id = movements.customer_id
        and exposed.three_months_end_state_day >= movements.valid_from
        and exposed.three_months_end_state_day < movements.valid_until
),

final as (
    select
        customer_id,
        month_start,
        month_end,
        month_complete,
        is_opening,
        case when not is_opening then first_activation_date end as first_paying_day,
        case
            when not is_opening then core.tenure_month(first_activation_date, month_start)
        end as tenure_month,
        mrr_start,
        active_at_end,
        mrr_end,
        three_months_complete,
        active_three_months_later
    from state_three_months_later
)

-- no ORDER BY: an internal table of a few million rows, read by joins and aggregates; sorting
-- it cost a fifth of its build time on the benchmark's nightly run
select * from final
