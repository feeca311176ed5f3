-- reporting.churn_by_period: the computed values plus `computed_at`, the time these values
-- were first computed. A row whose values did not change keeps its earlier time, so a closed
-- period restated by late or corrected data stands out with a recent computed_at.
create or replace table reporting.churn_by_period as
with computed as (
    select * from churn_by_period_computed
),

previous_values as (
    select * exclude (computed_at) from reporting.churn_by_period
),

previous as (
    select
        previous_values.grain,
        previous_values.period_start,
        hash(previous_values) as values_hash,
        previous_rows.computed_at
    from reporting.churn_by_period as previous_rows
    positional join previous_values
),

final as (
    select
        computed.*,
        case
            when previous.values_hash = hash(computed) then previous.computed_at
            else cast($computed_at as timestamp)
        end as computed_at
    from computed
    left join previous using (grain, period_start)
)

select * from final
order by grain, period_start
