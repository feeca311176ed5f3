-- One row per subscription and text hash among the rows whose key is not duplicated on their
-- date: the earliest (by date, file, row), which validation reads for all of them. Their
-- texts are equal (up to the subscription_id's surrounding spaces, which validation trims),
-- so every per-row rule gives them one result; so does the history rule, since they name one
-- customer. Rows of a missing subscription_id group by their texts too: they are all
-- `missing_subscription_id`. Grouping by the id as well as the hash means two texts would have
-- to collide within one subscription's few distinct rows of a chunk to be confused.
--
-- A subscription with no duplicated key keeps its groups of subscription_texts.sql; only the
-- rows of one with a duplicated key (usually none) are grouped again without those keys.
create or replace temp table validation_representatives as
with subscriptions_with_a_duplicated_key as (
    select distinct subscription_id_clean
    from duplicated_subscription_keys
),

texts_of_subscriptions_without_one as (
    select
        subscription_id_clean,
        text_hash,
        raw.staged_row_of_key(representative_key, $chunk_start) as representative,
        last_date,
        text_rows
    from subscription_texts
    anti join subscriptions_with_a_duplicated_key using (subscription_id_clean)
),

texts_of_subscriptions_with_one as (
    select
        subscription_id_clean,
        text_hash,
        min({
            'snapshot_date_of_file': snapshot_date_of_file,
            'file_number': file_number,
            'source_row': source_row
        }) as representative,
        max(snapshot_date_of_file) as last_date,
        count(*) as text_rows
    from row_texts
    semi join subscriptions_with_a_duplicated_key using (subscription_id_clean)
    anti join duplicated_subscription_keys using (snapshot_date_of_file, subscription_id_clean)
    group by subscription_id_clean, text_hash
)

select * from texts_of_subscriptions_without_one
union all
select * from texts_of_subscriptions_with_one
