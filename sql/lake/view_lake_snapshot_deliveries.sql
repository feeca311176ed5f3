-- The delivery of each date in the lake, from its latest committed version: __LAKE_FILES__
-- is the list of those files, pinned when the view is created (lake.refresh_raw_layer), so a
-- step reads one consistent lake while other runs commit. Files are named in the view itself
-- (views take no parameters), so the warehouse file keeps working in any DuckDB client.
create or replace view raw.lake_snapshot_deliveries as
select * from raw.read_lake_files(__LAKE_FILES__)
