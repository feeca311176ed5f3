-- Record what a table was just built from: the current definitions, snapshot range and
-- per-day movement fingerprints.
insert into core.mart_build_inputs
select
    $table_name as table_name,
    $definition_fingerprint as definition_fingerprint,
    snapshot_range.first_snapshot_date,
    snapshot_range.latest_snapshot_date,
    fingerprints.movement_date,
    fingerprints.movements_fingerprint
from core.movement_day_fingerprints as fingerprints
cross join core.snapshot_range as snapshot_range
