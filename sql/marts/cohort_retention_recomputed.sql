-- reporting.cohort_retention: logo and revenue retention by cohort (METRICS.md §2, §4, §7).
-- A customer's cohort is the month (or quarter) holding its first paying day, the date of its
-- `new` movement; it keeps that cohort after any reactivation (tenure never resets). The
-- opening base (first movement `opening`: active on the first snapshot, first paying day
-- unknown) forms the cohort `opening`, whose period 0 is the period holding the first snapshot;
-- started_at is not used for it. For each cohort and each period from its period 0 to the one
-- holding the latest loaded snapshot: the members active at the period's end state (the end of
-- its last day, or the latest snapshot when the period is not complete; held members count as
-- active with MRR 0) and their MRR, relative to the cohort's size and to its MRR at the end
-- state of period 0 (revenue retention, NULL when that MRR is 0; it can exceed 1).
-- A customer's state on a day is the one left by its last movement dated on or before that
-- day (churn: inactive; otherwise active with mrr_after): its span in core.customer_state_spans.
-- This statement computes the cells of the periods that end after $rebuild_from (all of them
-- when it is the minimum date); an earlier period's cell reads no later day, and neither does
-- its cohort's period 0. An incremental build adds the other cells of the current table
-- (marts/cohort_retention_kept); marts/cohort_retention replaces the table.
create or replace temp table cohort_retention_rows as
with grains as (
    select * from (
        values
            ('month', 1),
            ('quarter', 3)
    ) as grains (cohort_grain, months_per_period)
),

-- every period of each grain from the one holding the first snapshot to the one holding the
-- latest
period_starts as (
    select
        grains.cohort_grain,
        grains.months_per_period,
        cast(unnest(generate_series(
            core.period_start_of(grains.cohort_grain, snapshot_range.first_snapshot_date),
            snapshot_range.latest_snapshot_date,
            to_months(grains.months_per_period)
        )) as date) as period_start
    from grains
    cross join core.snapshot_range as snapshot_range
),

-- each period with the day whose end state measures it: its last day, or the latest snapshot
periods as (
    select
        period_starts.cohort_grain,
        period_starts.period_start,
        period_ends.period_end,
        least(cast(period_ends.period_end - 1 as date), snapshot_range.latest_snapshot_date)
            as measured_on,
        period_ends.period_end <= cast(snapshot_range.latest_snapshot_date + 1 as date) as is_complete
    from period_starts
    cross join core.snapshot_range as snapshot_range
    cross join lateral (
        select cast(period_starts.period_start + to_months(period_starts.months_per_period) as date)
            as period_end
    ) as period_ends
),

-- each customer's first activation: `opening` (the opening base) or `new` (first paying day)
first_activations as (
    select
        customer_id,
        min(movement_date) as first_active_on,
        bool_or(movement = 'opening') as in_opening_base
    from core.customer_movements
    where movement in ('opening', 'new')
    group by customer_id
),

-- each customer in its cohort, once per grain
cohort_members as (
    select
        grains.cohort_grain,
        grains.months_per_period,
        first_activations.customer_id,
        first_activations.first_active_on,
        case
            when first_activations.in_opening_base then 'opening'
            when grains.cohort_grain = 'month' then strftime(first_activations.first_active_on, '%Y-%m')
            else strftime(first_activations.first_active_on, '%Y') || '-Q'
                || quarter(first_activations.first_active_on)
        end as cohort,
        case
            when first_activations.in_opening_base then snapshot_range.first_snapshot_date
            else core.period_start_of(grains.cohort_grain, first_activations.first_active_on)
        end as cohort_start,
        -- period 0: the period holding the first paying day (opening base: the first snapshot)
        core.period_start_of(grains.cohort_grain, first_activations.first_active_on)
            as cohort_period_start
    from first_activations
    cross join grains
    cross join core.snapshot_range as snapshot_range
),

-- the cells to compute: those of periods ending after $rebuild_from, and each cohort's period 0
-- (the base of its revenue retention)
member_periods as materialized (
    select
        cohort_members.cohort_grain,
        cohort_members.months_per_period,
        cohort_members.customer_id,
        cohort_members.cohort,
        cohort_members.cohort_start,
        cohort_members.cohort_period_start,
        periods.period_start,
        periods.period_end,
        periods.is_complete,
        periods.measured_on
    from cohort_members
    inner join periods
        on periods.cohort_grain = cohort_members.cohort_grain
        and periods.period_start >= cohort_members.cohort_period_start
    where periods.period_end > $rebuild_from
        or periods.period_start = cohort_members.cohort_period_start
),

-- each member's state at the end of the period's measured day (on or after its first active
-- day); a customer has at most one movement per date (each is dated inside its own snapshot pair)
member_states as (
    select
        member_periods.*,
        movements.movement <> 'churn' as is_active,
        case when movements.movement <> 'churn' then coalesce(movements.mrr_after, 0) else 0 end
            as mrr
    from member_periods
    inner join core.customer_state_spans as movements
        on movements.customer_id = member_periods.customer_id
        and movements.valid_from <= member_periods.measured_on
        and movements.valid_until > member_periods.measured_on
),

-- every member has a state in every period of its cohort, so count(*) is the cohort's size
cells as (
    select
        cohort_grain,
        cohort,
        cohort_start,
        date_diff('month', cohort_period_start, period_start) // months_per_period as period_number,
        period_start,
        period_end,
        is_complete,
        count(*) as cohort_customers,
        count(*) filter (where is_active) as active_customers,
        sum(mrr) as mrr
    from member_states
    group by all
),

final as (
    select
        cohort_grain,
        cohort,
        cohort_start,
        period_number,
        period_start,
        period_end,
        is_complete,
        cast(cohort_customers as bigint) as cohort_customers,
        cast(active_customers as bigint) as active_customers,
        active_customers / cohort_customers as logo_retention,
        cast(first_value(mrr) over cohort_periods as bigint) as cohort_mrr,
        cast(mrr as bigint) as mrr,
        mrr / nullif(first_value(mrr) over cohort_periods, 0) as revenue_retention
    from cells
    window cohort_periods as (partition by cohort_grain, cohort order by period_number)
)

select * from final
where period_end > $rebuild_from
