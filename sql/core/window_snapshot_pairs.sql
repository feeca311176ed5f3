-- Each loaded snapshot date of the run window with the loaded snapshot before it
-- (NULL for the very first snapshot: its active customers are the opening base).
create or replace temp table window_snapshot_pairs as
with loaded_snapshot_dates as (
    select snapshot_date
    from raw.snapshot_deliveries
    where status = 'loaded'
),

dates_with_previous as (
    select
        snapshot_date,
        lag(snapshot_date) over (order by snapshot_date) as previous_snapshot_date
    from loaded_snapshot_dates
)

select *
from dates_with_previous
where snapshot_date between $window_start and $window_end
