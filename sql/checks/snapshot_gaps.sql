-- Snapshot dates between the first and the latest loaded one that have no usable file
-- (missing, or refused for too many rejected rows): carried forward, never silently filled.
with loaded_range as (
    select min(snapshot_date) as first_date, max(snapshot_date) as latest_date
    from raw.snapshot_deliveries
    where status = 'loaded'
),

calendar as (
    select cast(unnest(generate_series(first_date, latest_date, interval 1 day)) as date) as snapshot_date
    from loaded_range
)

select calendar.snapshot_date, coalesce(deliveries.status, 'not ingested yet') as status
from calendar
left join raw.snapshot_deliveries as deliveries using (snapshot_date)
where deliveries.status is distinct from 'loaded'
order by calendar.snapshot_date
