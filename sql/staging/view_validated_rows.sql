-- Every staged row with its canonical values and the first rule it breaks, as if validated
-- one by one: a row of a duplicated key has its own result, any other row its text's
-- representative's (validation_representatives.sql). Read by the accounting, the quarantine
-- and lake mode's insert; each row has its result's `content_hash` (view_validated_texts.sql).
create or replace temp view validated_rows as
with rows_of_a_representative as (
    select
        row_texts.snapshot_date_of_file,
        row_texts.file_number,
        row_texts.source_row,
        results.* exclude (snapshot_date_of_file, file_number, source_row)
    from row_texts
    anti join duplicated_subscription_keys using (snapshot_date_of_file, subscription_id_clean)
    inner join validated_texts as results
        on results.subscription_id_clean is not distinct from row_texts.subscription_id_clean
        and results.text_hash = row_texts.text_hash
        and not results.is_duplicated
),

rows_validated_alone as (
    select *
    from validated_texts
    where is_duplicated
)

select * exclude (text_hash, is_duplicated) from rows_of_a_representative
union all
select * exclude (text_hash, is_duplicated) from rows_validated_alone
