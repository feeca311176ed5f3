-- A run window's quarantined rows, gathered chunk by chunk before the window's one transaction
-- replaces raw.rejected_rows' rows of the window with them (staging/store_window_rejected_rows.sql).
create or replace temp table window_rejected_rows as
select * from raw.rejected_rows
limit 0
