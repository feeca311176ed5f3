-- The staged rows validated_representatives.sql validates: each text's representative
-- (validation_representatives.sql) and every row of a duplicated key, with their texts.
create or replace temp table rows_to_validate as
with representative_keys as (
    select
        representative.snapshot_date_of_file,
        representative.source_file,
        representative.source_row,
        text_hash,
        false as is_duplicated
    from validation_representatives
),

duplicated_keys as (
    select snapshot_date_of_file, source_file, source_row, text_hash, true as is_duplicated
    from row_texts
    semi join duplicated_subscription_keys using (snapshot_date_of_file, subscription_id_clean)
),

keys as (
    select * from representative_keys
    union all
    select * from duplicated_keys
)

select
    staged_rows.*,
    keys.text_hash,
    keys.is_duplicated
from staged_rows
inner join keys using (snapshot_date_of_file, source_file, source_row)
