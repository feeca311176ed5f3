-- The clean rows of each date's committed version in the lake, before the history rule.
create or replace view raw.lake_subscription_snapshots as
with snapshot_files as (
    select *
    from read_parquet(
        __LAKE_FILES__,
        hive_partitioning = true,
        hive_types = {'snapshot_date': 'DATE', 'version': 'VARCHAR'}
    )
)

select snapshot_files.*
from snapshot_files
semi join raw.lake_snapshot_deliveries using (snapshot_date, version)
