-- The benchmark's floor: simplified monthly churn computed straight from the snapshot Parquet
-- files ($files, one per date, named YYYY-MM-DD.parquet or snapshot_date=YYYY-MM-DD/...) in
-- one statement, with no staging, no validation and no movement log. Per month: customers
-- active at start, how many of them are inactive at the end, and their MRR at start, by the
-- state rules of METRICS.md §2 (paying = active/past_due with MRR > 0; held = paused, active
-- when the customer has been active before or on the first snapshot). A day without a file
-- takes the state of the latest earlier file; `boundaries_are_snapshots` is false when a
-- boundary day of the month is such a gap (the pipeline then dates churns inside the gap by
-- ended_at, which this floor does not do, so those months are not comparable).
with snapshot_files as (
    select
        file,
        cast(regexp_extract(file, '(\d{4}-\d{2}-\d{2})[^0-9]*$', 1) as date) as snapshot_date
    from (select unnest(cast($files as varchar[])) as file)
),

snapshot_range as (
    select
        min(snapshot_date) as first_snapshot_date,
        max(snapshot_date) as latest_snapshot_date
    from snapshot_files
),

months as (
    select
        cast(month_start as date) as period_start,
        cast(month_start + interval 1 month as date) as period_end
    from snapshot_range,
        unnest(
            generate_series(
                cast(date_trunc('month', first_snapshot_date) as timestamp),
                cast(latest_snapshot_date as timestamp),
                interval 1 month
            )
        ) as series(month_start)
),

month_boundaries as (
    -- a month is published when a snapshot exists on or before the day before it starts;
    -- its end state is the last day's, or the latest snapshot's for the running month
    select
        months.period_start,
        months.period_end,
        cast(months.period_start - interval 1 day as date) as start_day,
        cast(least(months.period_end - interval 1 day, snapshot_range.latest_snapshot_date) as date)
            as end_day
    from months
    cross join snapshot_range
    where months.period_start > snapshot_range.first_snapshot_date
),

boundary_snapshots as (
    select
        month_boundaries.*,
        (select max(snapshot_date) from snapshot_files where snapshot_date <= start_day)
            as start_snapshot_date,
        (select max(snapshot_date) from snapshot_files where snapshot_date <= end_day)
            as end_snapshot_date
    from month_boundaries
),

boundary_files as (
    select file, snapshot_date
    from snapshot_files
    where snapshot_date in (select start_snapshot_date from boundary_snapshots)
        or snapshot_date in (select end_snapshot_date from boundary_snapshots)
),

first_activation as (
    -- every file once, three columns: the first day each customer paid (or was held on the
    -- first snapshot, where its history is unknown)
    select
        rows.customer_id,
        min(snapshot_files.snapshot_date) as first_activation_date
    from read_parquet($files, filename = true) as rows
    inner join snapshot_files on rows.filename = snapshot_files.file
    cross join snapshot_range
    where (lower(rows.status) in ('active', 'past_due') and rows.mrr > 0)
        or (lower(rows.status) = 'paused' and snapshot_files.snapshot_date = snapshot_range.first_snapshot_date)
    group by rows.customer_id
),

boundary_customer_states as (
    select
        boundary_files.snapshot_date,
        rows.customer_id,
        coalesce(
            sum(cast(round(rows.mrr * 100) as bigint))
                filter (where lower(rows.status) in ('active', 'past_due') and rows.mrr > 0),
            0
        ) as mrr_cents,
        bool_or(lower(rows.status) in ('active', 'past_due') and rows.mrr > 0) as has_paying,
        bool_or(lower(rows.status) = 'paused') as has_held
    from read_parquet($files, filename = true) as rows
    inner join boundary_files on rows.filename = boundary_files.file
    where rows.filename in (select file from boundary_files)  -- only these files are read
    group by all
),

boundary_active_customers as (
    select
        states.snapshot_date,
        states.customer_id,
        states.mrr_cents
    from boundary_customer_states as states
    left join first_activation using (customer_id)
    where states.has_paying
        or (states.has_held and first_activation.first_activation_date <= states.snapshot_date)
),

customers_at_start as (
    select
        boundary_snapshots.period_start,
        active.customer_id,
        active.mrr_cents
    from boundary_snapshots
    inner join boundary_active_customers as active
        on active.snapshot_date = boundary_snapshots.start_snapshot_date
),

customers_at_end as (
    select
        boundary_snapshots.period_start,
        active.customer_id
    from boundary_snapshots
    inner join boundary_active_customers as active
        on active.snapshot_date = boundary_snapshots.end_snapshot_date
),

final as (
    select
        boundary_snapshots.period_start,
        boundary_snapshots.period_end,
        boundary_snapshots.start_snapshot_date = boundary_snapshots.start_day
            and boundary_snapshots.end_snapshot_date = boundary_snapshots.end_day
            as boundaries_are_snapshots,
        count(customers_at_start.customer_id) as customers_start,
        count(customers_at_start.customer_id) filter (where customers_at_end.customer_id is null)
            as churned_from_start,
        coalesce(sum(customers_at_start.mrr_cents), 0) as mrr_start
    from boundary_snapshots
    left join customers_at_start using (period_start)
    left join customers_at_end using (period_start, customer_id)
    group by all
)

select * from final
order by period_start
