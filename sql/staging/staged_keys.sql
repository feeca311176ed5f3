-- The staged rows validation reads (validated_representatives.sql), by key: each text's
-- representative (validation_representatives.sql) and every row of a duplicated key
-- (duplicated_subscription_keys.sql), with the text's hash and whether the key is duplicated.
-- Read back from the files through `staged_rows_of_keys` (snapshot_files.py).
create or replace temp table staged_keys as
with representative_keys as (
    select
        representative.snapshot_date_of_file,
        representative.file_number,
        representative.source_row,
        text_hash,
        false as is_duplicated
    from validation_representatives
),

duplicated_keys as (
    select snapshot_date_of_file, file_number, source_row, text_hash, true as is_duplicated
    from row_texts
    semi join duplicated_subscription_keys using (snapshot_date_of_file, subscription_id_clean)
)

select * from representative_keys
union all
select * from duplicated_keys
