-- Snapshot files of the run's dates (else the latest ingestion's) whose share of rejected
-- rows exceeded CHURN_QUARANTINE_THRESHOLD, with the rules that rejected them.
with checked_dates as (
    select snapshot_date
    from raw.checked_snapshot_dates(cast($window_start as date), cast($window_end as date))
),

refused as (
    select deliveries.snapshot_date, deliveries.source_files, deliveries.rows_read, deliveries.rows_rejected
    from raw.snapshot_deliveries as deliveries
    inner join checked_dates using (snapshot_date)
    where deliveries.status = 'refused'
),

rules as (
    select snapshot_date, string_agg(rule || ' ' || rejected, ', ' order by rejected desc, rule) as rejected_by_rule
    from (
        select snapshot_date, rule, count(*) as rejected
        from raw.rejected_rows
        where snapshot_date in (select snapshot_date from refused)
        group by all
    )
    group by snapshot_date
)

select
    refused.snapshot_date,
    refused.source_files,
    refused.rows_read,
    refused.rows_rejected,
    round(refused.rows_rejected / refused.rows_read, 4) as rejected_share,
    rules.rejected_by_rule
from refused
left join rules using (snapshot_date)
order by refused.snapshot_date
