-- Warehouse mode's raw.subscription_snapshots: one row per subscription per file date, in the
-- canonical schema of METRICS.md §1, expanded from the versions of raw.subscription_changes.
-- `source_file` and `source_row` say where the version was read (its first file date), which
-- for an unchanged subscription is an earlier file than the row's own date.
create or replace view raw.subscription_snapshots as
with file_dates as (
    select snapshot_date
    from raw.snapshot_deliveries
    where status <> 'missing'
),

listed_versions as (
    select *
    from raw.subscription_changes
    where is_listed
)

select
    file_dates.snapshot_date,
    listed_versions.subscription_id,
    listed_versions.customer_id,
    listed_versions.status,
    listed_versions.status_raw,
    listed_versions.stops_involuntarily,
    listed_versions.mrr_cents,
    listed_versions.currency,
    listed_versions.plan,
    listed_versions.started_at,
    listed_versions.canceled_at,
    listed_versions.ended_at,
    listed_versions.cancel_reason,
    listed_versions.source_file,
    listed_versions.source_row
from listed_versions
inner join file_dates
    on file_dates.snapshot_date >= listed_versions.changed_on
    and file_dates.snapshot_date < listed_versions.valid_until
