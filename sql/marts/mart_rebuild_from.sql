-- Where the rebuild of an incrementally built table must start. One row:
-- `rebuild_everything`: no complete record of its last build, other definitions, or another
-- first snapshot; `rebuild_from`: the earliest day on which a customer's state may differ from
-- the last build's: the first day whose movements differ, or the day after the earlier of the
-- old and new latest snapshots when that moved. NULL when nothing changed.
with last_build as (
    select
        any_value(definition_fingerprint) as definition_fingerprint,
        any_value(first_snapshot_date) as first_snapshot_date,
        any_value(latest_snapshot_date) as latest_snapshot_date,
        count(distinct (definition_fingerprint, first_snapshot_date, latest_snapshot_date))
            as build_versions
    from core.mart_build_inputs
    where table_name = $table_name
),

last_build_days as (
    select movement_date, movements_fingerprint
    from core.mart_build_inputs
    where table_name = $table_name
),

changed_days as (
    select coalesce(current_days.movement_date, last_build_days.movement_date) as movement_date
    from core.movement_day_fingerprints as current_days
    full outer join last_build_days using (movement_date)
    where current_days.movements_fingerprint is distinct from last_build_days.movements_fingerprint
)

select
    coalesce(
        last_build.build_versions <> 1
        or last_build.definition_fingerprint <> $definition_fingerprint
        or last_build.first_snapshot_date is distinct from snapshot_range.first_snapshot_date,
        true
    ) as rebuild_everything,
    least(
        (select min(changed_days.movement_date) from changed_days),
        case
            when last_build.latest_snapshot_date is distinct from snapshot_range.latest_snapshot_date
                then cast(
                    least(last_build.latest_snapshot_date, snapshot_range.latest_snapshot_date) + 1
                    as date
                )
        end
    ) as rebuild_from
from core.snapshot_range as snapshot_range
cross join last_build
