-- One row per snapshot date in a run window: which file(s) were loaded, or that the date is
-- a gap (no file). Row accounting: rows_read = rows_loaded + rows_rejected.
create table if not exists raw.snapshot_deliveries (
    snapshot_date date not null primary key,
    status varchar not null,            -- loaded | missing | refused (too many rejected rows)
    source_files varchar,
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_rejected bigint not null,
    content_fingerprint ubigint,        -- order-independent hash of the loaded rows; NULL for a gap
    unknown_columns varchar,
    ingested_at timestamp not null
)
