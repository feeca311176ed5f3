-- What each incrementally rebuilt table (and each built table one of them reads) was last built
-- from: the definitions (a fingerprint of sql/schema, sql/marts and the build code, and the
-- DuckDB version), the snapshot range, and one fingerprint per day of the
-- movement log (core.movement_day_fingerprints). The next build compares them with the current
-- ones and recomputes only the rows that can depend on a day that differs
-- (marts/mart_rebuild_from). Deleting a table's rows forces its full rebuild.
create table if not exists core.mart_build_inputs (
    table_name varchar not null,
    definition_fingerprint varchar not null,
    first_snapshot_date date,
    latest_snapshot_date date,
    movement_date date not null,
    movements_fingerprint hugeint not null
)
