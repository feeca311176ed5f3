-- The run window's deliveries into raw.snapshot_deliveries (after its old rows are deleted).
insert into raw.snapshot_deliveries by name
select * from window_snapshot_deliveries
