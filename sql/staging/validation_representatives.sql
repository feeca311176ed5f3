-- One row per subscription and text hash among the rows whose key is not duplicated on their
-- date: the earliest (by date, file, row), which validation reads for all of them. Their
-- texts are equal (up to the subscription_id's surrounding spaces, which validation trims),
-- so every per-row rule gives them one result; so does the history rule, since they name one
-- customer. Rows of a missing subscription_id group by their texts too: they are all
-- `missing_subscription_id`. Grouping by the id as well as the hash means two texts would have
-- to collide within one subscription's few distinct rows of a chunk to be confused.
create or replace temp table validation_representatives as
select
    subscription_id_clean,
    text_hash,
    min({
        'snapshot_date_of_file': snapshot_date_of_file,
        'source_file': source_file,
        'source_row': source_row
    }) as representative,
    max(snapshot_date_of_file) as last_date,
    count(*) as text_rows
from row_texts
anti join duplicated_subscription_keys using (snapshot_date_of_file, subscription_id_clean)
group by subscription_id_clean, text_hash
