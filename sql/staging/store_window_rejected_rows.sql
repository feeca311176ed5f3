-- The run window's quarantined rows into raw.rejected_rows (after its old rows are deleted).
insert into raw.rejected_rows by name
select * from window_rejected_rows
