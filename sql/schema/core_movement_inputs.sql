-- The snapshot deliveries (and settings) the movement log was last derived from. A run
-- compares them with raw.snapshot_deliveries and re-derives movements from the earliest
-- date that differs: a new day costs one day; a corrected old day re-derives from there on.
create table if not exists core.movement_inputs (
    snapshot_date date not null primary key,
    status varchar not null,
    content_fingerprint ubigint,
    settings_key varchar not null
)
