-- The snapshot dates a window needs: its own and the one before each of them.
create or replace temp table window_snapshot_dates as
select snapshot_date from window_snapshot_pairs
union
select previous_snapshot_date from window_snapshot_pairs where previous_snapshot_date is not null
