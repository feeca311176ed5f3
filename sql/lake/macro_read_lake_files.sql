-- The lake's Parquet files of one layer, with snapshot_date and version read from the folder
-- names (snapshot_date=YYYY-MM-DD/version=V/part.parquet): what the raw views read.
create or replace macro raw.read_lake_files(files) as table
select *
from read_parquet(
    files,
    hive_partitioning = true,
    hive_types = {'snapshot_date': 'DATE', 'version': 'VARCHAR'}
)
