-- Lake mode only: the text a clean row would need if it were quarantined later, when the
-- raw views apply the history rule (changed customer_id) over every date of the lake.
create temp table if not exists lake_row_texts (
    snapshot_date date not null,
    source_file varchar not null,
    source_row bigint not null,
    customer_id_value varchar,      -- customer_id as exported (raw.rejected_rows.value)
    raw_row varchar not null        -- the whole row as JSON text (raw.rejected_rows.raw_row)
)
