-- reporting.customer_survival: Kaplan–Meier curve of customer lifetime (METRICS.md §7).
-- Lifetime = days from the first paying day to the first churn (the first inactive day);
-- a customer still active at the latest snapshot is right-censored after its active days.
-- Later reactivations do not extend the first lifetime. The opening base (first paying day
-- unknown) is left out. Events at a time are counted before censorings at the same time.
-- 95% pointwise interval from Greenwood's variance, clipped to [0, 1].
create or replace table reporting.customer_survival as
with first_churns as (
    select
        customer_id,
        min(movement_date) as first_churn_date
    from core.customer_movements
    where movement = 'churn'
    group by customer_id
),

lifetimes as (
    select
        activations.customer_id,
        coalesce(
            first_churns.first_churn_date - activations.first_activation_date,
            snapshot_range.latest_snapshot_date - activations.first_activation_date + 1
        ) as lifetime_days,
        first_churns.first_churn_date is not null as churned
    from core.customers as activations
    cross join core.snapshot_range as snapshot_range
    left join first_churns using (customer_id)
    where not activations.is_opening
),

events_by_day as (
    select
        lifetime_days as tenure_days,
        count(*) filter (where churned) as churned,
        count(*) filter (where not churned) as censored
    from lifetimes
    group by lifetime_days
),

risk_sets as (
    select
        tenure_days,
        churned,
        censored,
        sum(churned + censored) over (
            order by tenure_days desc rows between unbounded preceding and current row
        ) as at_risk
    from events_by_day
),

product_limit as (
    select
        tenure_days,
        at_risk,
        churned,
        censored,
        -- a step where everyone at risk churns sends the curve to 0 from there on
        max(cast(churned = at_risk as integer)) over running as curve_ended,
        sum(case when churned < at_risk then ln(1 - churned / at_risk) else 0 end) over running
            as log_survival,
        sum(case when churned < at_risk then churned / (at_risk * (at_risk - churned)) end)
            over running as greenwood_sum
    from risk_sets
    window running as (order by tenure_days rows between unbounded preceding and current row)
),

curve as (
    select
        tenure_days,
        at_risk,
        churned,
        censored,
        -- the running minimum keeps the curve flat where nothing happens (a windowed sum of
        -- doubles may differ in the last bit between rows that add nothing)
        case
            when curve_ended = 1 then 0.0
            else min(exp(log_survival)) over (
                order by tenure_days rows between unbounded preceding and current row
            )
        end as survival,
        curve_ended,
        greenwood_sum
    from product_limit
),

final as (
    select
        cast(tenure_days as bigint) as tenure_days,
        tenure_days / 30.4375 as tenure_months,
        cast(at_risk as bigint) as customers_at_risk,
        cast(churned as bigint) as customers_churned,
        cast(censored as bigint) as customers_censored,
        survival,
        -- Once everyone at risk has churned, Greenwood's variance is undefined (0 × ∞); the
        -- interval's width tends to 0 as the last step approaches that, so it is [0, 0]
        -- whether or not an earlier step had a variance
        case
            when curve_ended = 1 then 0.0
            else greatest(0.0, survival - 1.96 * survival * sqrt(greenwood_sum))
        end as survival_ci_low,
        case
            when curve_ended = 1 then 0.0
            else least(1.0, survival + 1.96 * survival * sqrt(greenwood_sum))
        end as survival_ci_high
    from curve
)

select * from final
order by tenure_days
