-- delivery_accounting.sql's table, counted from the chunk's texts instead of row by row, for a
-- chunk where every text has one row on each date of its mask (subscription_texts.sql) and no
-- key is duplicated (each_text_once_a_date.sql): then a text's rows are one per date of its
-- mask, each with its text's result and content hash (view_validated_texts.sql).
create or replace temp table delivery_accounting as
-- materialized: else each text's content hash is computed once per row of its dates (0.15 s
-- a 62-day chunk, against 0.02 s). range($mask_days): every bit a date mask can hold
-- (subscription_texts.sql, ingestion.MASK_DAYS); fewer would leave a chunk's later dates
-- uncounted.
with texts_with_their_result as materialized (
    select
        subscription_texts.date_mask,
        validated_texts.rule,
        validated_texts.content_hash
    from subscription_texts
    inner join validated_texts
        on validated_texts.subscription_id_clean is not distinct from subscription_texts.subscription_id_clean
        and validated_texts.text_hash = subscription_texts.text_hash
),

rows_of_the_texts as (
    select
        cast($chunk_start + cast(date_bits.bit_index as integer) as date) as snapshot_date,
        texts.rule,
        texts.content_hash
    from texts_with_their_result as texts
    cross join range($mask_days) as date_bits (bit_index)
    where texts.date_mask & (cast(1 as hugeint) << cast(date_bits.bit_index as integer)) <> 0
)

select
    snapshot_date,
    count(*) as rows_read,
    count(*) filter (where rule is null) as rows_loaded,
    count(*) filter (where rule is not null) as rows_rejected,
    bit_xor(content_hash) as content_fingerprint
from rows_of_the_texts
group by snapshot_date
