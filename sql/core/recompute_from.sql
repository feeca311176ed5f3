-- The earliest snapshot date whose delivery (or the movement settings) changed since the
-- movement log was last derived; NULL when nothing changed.
with current_deliveries as (
    select snapshot_date, status, content_fingerprint
    from raw.snapshot_deliveries
),

derived_from as (
    select snapshot_date, status, content_fingerprint, settings_key
    from core.movement_inputs
),

differences as (
    select coalesce(current_deliveries.snapshot_date, derived_from.snapshot_date) as snapshot_date
    from current_deliveries
    full outer join derived_from using (snapshot_date)
    where current_deliveries.snapshot_date is null
        or derived_from.snapshot_date is null
        or current_deliveries.status <> derived_from.status
        or current_deliveries.content_fingerprint is distinct from derived_from.content_fingerprint
        or derived_from.settings_key <> $settings_key
)

select min(snapshot_date) as recompute_from
from differences
