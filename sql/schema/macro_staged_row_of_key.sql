-- The staged row a raw.staged_row_key names, given its chunk's first date.
create or replace macro raw.staged_row_of_key(row_key, chunk_start) as {
    'snapshot_date_of_file': cast(chunk_start + cast(row_key >> 96 as integer) as date),
    'file_number': cast((row_key >> 64) % (cast(1 as hugeint) << 32) as integer),
    'source_row': cast(row_key % (cast(1 as hugeint) << 64) as bigint)
}
