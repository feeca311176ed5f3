-- The rows of each date's committed version in the lake that broke a per-row rule.
create or replace view raw.lake_rejected_rows as
with rejected_files as (
    select *
    from read_parquet(
        __LAKE_FILES__,
        hive_partitioning = true,
        hive_types = {'snapshot_date': 'DATE', 'version': 'VARCHAR'}
    )
)

select rejected_files.*
from rejected_files
semi join raw.lake_snapshot_deliveries using (snapshot_date, version)
