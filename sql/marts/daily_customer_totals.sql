-- Active customers and MRR at the end of every calendar day from the first to the latest
-- snapshot, replayed from the movement log (opening base included). Days without a
-- snapshot carry the state forward, except for churns dated inside the gap.
create or replace table core.daily_customer_totals as
with calendar as (
    select cast(unnest(generate_series(first_snapshot_date, latest_snapshot_date, interval 1 day)) as date) as day
    from core.snapshot_range as snapshot_range
),

movement_deltas as (
    select
        movement_date as day,
        sum(
            case
                when movement in ('opening', 'new', 'reactivation') then 1
                when movement = 'churn' then -1
                else 0
            end
        ) as customer_delta,
        sum(coalesce(mrr_after, 0) - coalesce(mrr_before, 0)) as mrr_delta,
        -- paying = active with MRR > 0 (a held customer is active with MRR 0)
        sum(
            cast(coalesce(mrr_after, 0) > 0 as integer) - cast(coalesce(mrr_before, 0) > 0 as integer)
        ) as paying_delta
    from core.customer_movements
    group by movement_date
),

snapshot_days as (
    select snapshot_date as day
    from raw.snapshot_deliveries
    where status = 'loaded'
),

final as (
    select
        calendar.day,
        cast(sum(coalesce(movement_deltas.customer_delta, 0)) over (order by calendar.day) as bigint)
            as active_customers,
        cast(sum(coalesce(movement_deltas.mrr_delta, 0)) over (order by calendar.day) as bigint)
            as mrr,
        cast(sum(coalesce(movement_deltas.paying_delta, 0)) over (order by calendar.day) as bigint)
            as paying_customers,
        snapshot_days.day is not null as has_snapshot
    from calendar
    left join movement_deltas using (day)
    left join snapshot_days using (day)
)

select * from final
order by day
