-- The rows of each date's latest committed version (the files pinned as in
-- view_lake_snapshot_deliveries.sql) that broke a per-row rule.
create or replace view raw.lake_rejected_rows as
select * from raw.read_lake_files(__LAKE_FILES__)
