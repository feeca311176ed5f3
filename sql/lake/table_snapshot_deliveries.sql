-- Lake mode's raw.snapshot_deliveries: the committed deliveries with the history rule's
-- quarantine moved from loaded to rejected, and `refused` decided again on those counts
-- (the rule of staging/insert_snapshot_deliveries.sql, with the threshold of the run that
-- wrote the date). content_fingerprint is the delivery's own, before the history rule: a
-- change in another date that moves a row into quarantine changes that other date's
-- fingerprint, and movements are re-derived from the earliest changed date anyway.
-- A table, rebuilt each time a step opens the lake, like raw.subscription_customer_of_record:
-- the marts read it many times, and each read as a view would scan the whole lake twice.
create or replace table raw.snapshot_deliveries as
with changed_customer_counts as (
    select snapshot_date, count(*) as rows_changed_customer
    from raw.lake_changed_customer_rows
    group by snapshot_date
),

recounted as (
    select
        deliveries.*,
        deliveries.rows_loaded - coalesce(changed.rows_changed_customer, 0) as rows_loaded_after_rule,
        deliveries.rows_rejected + coalesce(changed.rows_changed_customer, 0) as rows_rejected_after_rule
    from raw.lake_snapshot_deliveries as deliveries
    left join changed_customer_counts as changed using (snapshot_date)
)

select
    snapshot_date,
    case
        when status = 'loaded' and rows_rejected_after_rule > quarantine_threshold * rows_read
            then 'refused'
        else status
    end as status,
    source_files,
    rows_read,
    rows_loaded_after_rule as rows_loaded,
    rows_rejected_after_rule as rows_rejected,
    content_fingerprint,
    unknown_columns,
    ingested_at
from recounted
