-- The clean rows of each date's latest committed version (the files pinned as in
-- view_lake_snapshot_deliveries.sql), before the history rule.
create or replace view raw.lake_subscription_snapshots as
select * from raw.read_lake_files(__LAKE_FILES__)
