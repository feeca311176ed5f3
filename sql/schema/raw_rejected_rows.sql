-- The quarantine: rows of a snapshot file set aside with the first rule they broke.
create table if not exists raw.rejected_rows (
    snapshot_date date not null,
    source_file varchar not null,
    source_row bigint not null,         -- 1-based data row (the header is not counted)
    subscription_id varchar,            -- trimmed id when the row had one: that subscription keeps its previous state
    column_name varchar,
    value varchar,
    rule varchar not null,
    raw_row varchar not null            -- the whole row as JSON text
)
