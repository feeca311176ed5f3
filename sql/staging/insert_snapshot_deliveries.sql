-- One delivery row per date of the run window, from the Python-side `delivery_plan`
-- (which file, or none) and the row accounting of `delivery_accounting`. A file whose
-- share of rejected rows exceeds the threshold is `refused`: its rows stay in the tables
-- for inspection, but movements treat the date as a gap, so a half-broken export never
-- counts as customers lost.
insert into window_snapshot_deliveries
select
    delivery_plan.snapshot_date,
    case
        when delivery_plan.status = 'loaded'
            and delivery_accounting.rows_rejected > $quarantine_threshold * delivery_accounting.rows_read
            then 'refused'
        else delivery_plan.status
    end as status,
    delivery_plan.source_files,
    coalesce(delivery_accounting.rows_read, 0) as rows_read,
    coalesce(delivery_accounting.rows_loaded, 0) as rows_loaded,
    coalesce(delivery_accounting.rows_rejected, 0) as rows_rejected,
    delivery_accounting.content_fingerprint,
    delivery_plan.unknown_columns,
    delivery_plan.ingested_at
from delivery_plan
left join delivery_accounting using (snapshot_date)
