-- The values of reporting.churn_by_period: one row per grain and period (METRICS.md §4–§5).
-- Start and end states come from the daily replay of the movement log; movement counts,
-- the MRR bridge and the start-cohort outcomes come from the movements inside the period.
-- Every period is computed from its own start and end, never from shorter periods.
-- Only the periods from the one holding $rebuild_from on are computed (all of them when it is
-- the minimum date): an earlier period ends before it, so its values cannot have changed;
-- marts/churn_by_period_kept copies those from the current table.
create or replace temp table churn_by_period_computed as
with grains as (
    select * from (
        values
            ('day', interval 1 day),
            ('week', interval 7 day),
            ('month', interval 1 month),
            ('quarter', interval 3 month),
            ('half_year', interval 6 month),
            ('year', interval 1 year)
    ) as grains (grain, period_length)
),

period_starts as (
    select
        grains.grain,
        grains.period_length,
        cast(unnest(generate_series(
            core.period_start_of(grains.grain, snapshot_range.first_snapshot_date),
            snapshot_range.latest_snapshot_date,
            grains.period_length
        )) as date) as period_start
    from grains
    cross join core.snapshot_range as snapshot_range
),

-- published: the start state is known (a snapshot on or before the day before the start)
published_periods as (
    select
        period_starts.grain,
        period_starts.period_start,
        cast(period_starts.period_start + period_starts.period_length as date) as period_end,
        least(
            cast(period_starts.period_start + period_starts.period_length as date),
            cast(snapshot_range.latest_snapshot_date + 1 as date)
        ) as measured_end,
        snapshot_range.latest_snapshot_date
    from period_starts
    cross join core.snapshot_range as snapshot_range
    where period_starts.period_start > snapshot_range.first_snapshot_date
        and period_starts.period_start <= snapshot_range.latest_snapshot_date
        and period_starts.period_start >= core.period_start_of(period_starts.grain, $rebuild_from)
),

boundary_states as (
    select
        periods.*,
        periods.period_end <= cast(periods.latest_snapshot_date + 1 as date) as is_complete,
        date_diff('day', periods.period_start, periods.period_end) as days_in_period,
        at_start.active_customers as customers_start,
        at_start.mrr as mrr_start,
        at_end.active_customers as customers_end,
        at_end.mrr as mrr_end
    from published_periods as periods
    inner join core.daily_customer_totals as at_start
        on at_start.day = cast(periods.period_start - 1 as date)
    inner join core.daily_customer_totals as at_end
        on at_end.day = cast(periods.measured_end - 1 as date)
),

-- customers active at the start of each measured day = active at the end of the day before
exposure as (
    select
        periods.grain,
        periods.period_start,
        sum(totals.active_customers) as customer_days_exposed
    from published_periods as periods
    inner join core.daily_customer_totals as totals
        on totals.day >= cast(periods.period_start - 1 as date)
        and totals.day < cast(periods.measured_end - 1 as date)
    group by periods.grain, periods.period_start
),

movements_by_period as (
    select
        grains.grain,
        core.period_start_of(grains.grain, movements.movement_date) as period_start,
        movements.customer_id,
        movements.movement_date,
        movements.movement,
        coalesce(movements.mrr_before, 0) as mrr_before,
        coalesce(movements.mrr_after, 0) as mrr_after
    from core.customer_movements as movements
    cross join grains
    where movements.movement <> 'opening'
        and movements.movement_date >= core.period_start_of(grains.grain, $rebuild_from)
),

movement_totals as (
    select
        grain,
        period_start,
        count(*) filter (where movement = 'new') as new_customers,
        count(*) filter (where movement = 'reactivation') as reactivated_customers,
        count(*) filter (where movement = 'churn') as churned_customers,
        count(distinct customer_id) filter (where movement = 'churn') as churned_distinct,
        coalesce(sum(mrr_after) filter (where movement = 'new'), 0) as new_mrr,
        coalesce(sum(mrr_after) filter (where movement = 'reactivation'), 0) as reactivation_mrr,
        coalesce(sum(mrr_after - mrr_before) filter (where movement = 'expansion'), 0) as expansion_mrr,
        coalesce(sum(mrr_before - mrr_after) filter (where movement = 'contraction'), 0) as contraction_mrr,
        coalesce(sum(mrr_before) filter (where movement = 'churn'), 0) as churned_mrr
    from movements_by_period
    group by grain, period_start
),

-- each mover's state before its first and after its last movement of the period
customer_paths as (
    select
        grain,
        period_start,
        customer_id,
        arg_min(movement, movement_date) not in ('new', 'reactivation') as active_at_start,
        arg_min(mrr_before, movement_date) as customer_mrr_start,
        arg_max(movement, movement_date) <> 'churn' as active_at_end,
        arg_max(mrr_after, movement_date) as customer_mrr_end
    from movements_by_period
    group by grain, period_start, customer_id
),

start_cohort_outcomes as (
    select
        grain,
        period_start,
        count(*) filter (where active_at_start and not active_at_end) as churned_from_start,
        coalesce(sum(customer_mrr_end - customer_mrr_start) filter (where active_at_start), 0)
            as start_cohort_net_mrr_change,
        coalesce(
            sum(greatest(customer_mrr_start - customer_mrr_end, 0)) filter (where active_at_start), 0
        ) as start_cohort_mrr_lost
    from customer_paths
    group by grain, period_start
),

combined as (
    select
        boundary_states.*,
        coalesce(movement_totals.new_customers, 0) as new_customers,
        coalesce(movement_totals.reactivated_customers, 0) as reactivated_customers,
        coalesce(movement_totals.churned_customers, 0) as churned_customers,
        coalesce(start_cohort_outcomes.churned_from_start, 0) as churned_from_start,
        coalesce(movement_totals.churned_distinct, 0) as churned_distinct,
        coalesce(exposure.customer_days_exposed, 0) as customer_days_exposed,
        coalesce(movement_totals.new_mrr, 0) as new_mrr,
        coalesce(movement_totals.reactivation_mrr, 0) as reactivation_mrr,
        coalesce(movement_totals.expansion_mrr, 0) as expansion_mrr,
        coalesce(movement_totals.contraction_mrr, 0) as contraction_mrr,
        coalesce(movement_totals.churned_mrr, 0) as churned_mrr,
        boundary_states.mrr_start + coalesce(start_cohort_outcomes.start_cohort_net_mrr_change, 0)
            as start_cohort_mrr_end,
        boundary_states.mrr_start - coalesce(start_cohort_outcomes.start_cohort_mrr_lost, 0)
            as start_cohort_mrr_retained
    from boundary_states
    left join movement_totals using (grain, period_start)
    left join start_cohort_outcomes using (grain, period_start)
    left join exposure using (grain, period_start)
),

final as (
    select
        grain,
        period_start,
        period_end,
        is_complete,
        cast(customers_start as bigint) as customers_start,
        cast(customers_end as bigint) as customers_end,
        cast(new_customers as bigint) as new_customers,
        cast(reactivated_customers as bigint) as reactivated_customers,
        cast(churned_customers as bigint) as churned_customers,
        cast(churned_from_start as bigint) as churned_from_start,
        cast(churned_distinct as bigint) as churned_distinct,
        churned_from_start / nullif(customers_start, 0) as logo_churn_rate,
        churned_distinct / nullif(customers_start, 0) as gross_logo_churn_rate,
        churned_customers / nullif(customer_days_exposed, 0) * days_in_period as customer_days_churn_rate,
        (customers_start - customers_end) / nullif(customers_start, 0) as net_customer_change_rate,
        cast(mrr_start as bigint) as mrr_start,
        cast(new_mrr as bigint) as new_mrr,
        cast(reactivation_mrr as bigint) as reactivation_mrr,
        cast(expansion_mrr as bigint) as expansion_mrr,
        cast(contraction_mrr as bigint) as contraction_mrr,
        cast(churned_mrr as bigint) as churned_mrr,
        cast(mrr_end as bigint) as mrr_end,
        start_cohort_mrr_end / nullif(mrr_start, 0) as nrr,
        start_cohort_mrr_retained / nullif(mrr_start, 0) as grr,
        1 - start_cohort_mrr_retained / nullif(mrr_start, 0) as gross_mrr_churn_rate,
        1 - start_cohort_mrr_end / nullif(mrr_start, 0) as net_mrr_churn_rate,
        cast(customer_days_exposed as bigint) as customer_days_exposed,
        cast(days_in_period as bigint) as days_in_period
    from combined
)

select * from final
order by grain, period_start
