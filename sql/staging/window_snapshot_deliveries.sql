-- A run window's deliveries, gathered chunk by chunk before the window's one transaction
-- replaces raw.snapshot_deliveries' rows of the window with them.
create or replace temp table window_snapshot_deliveries as
select * from raw.snapshot_deliveries
limit 0
