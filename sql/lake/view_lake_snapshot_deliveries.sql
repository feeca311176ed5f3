-- The committed delivery of each date in the lake: its latest version. A version becomes
-- visible only once its delivery file exists (written after the date's other files), so a
-- run killed half-way leaves its half-written version unseen. The lake's files are named in
-- the view itself (views take no parameters), so the warehouse file keeps working in any
-- DuckDB client.
create or replace view raw.lake_snapshot_deliveries as
with delivery_files as (
    select *
    from read_parquet(
        __LAKE_FILES__,
        hive_partitioning = true,
        hive_types = {'snapshot_date': 'DATE', 'version': 'VARCHAR'}
    )
)

select *
from delivery_files
qualify version = max(version) over (partition by snapshot_date)
