-- One row per subscription and text hash of every staged row (staged_row_texts.sql): the
-- earliest row (by date, file number, row; as raw.staged_row_key), the last date, the number of
-- rows and `date_mask`, the set of dates the text is listed on as bits of a hugeint (bit k:
-- $chunk_start + k days; a chunk spans at most 127 calendar dates, as bit 127 is the sign). A
-- subscription whose texts' rows outnumber the dates their masks cover is listed twice on some
-- date (duplicated_subscription_keys.sql); usually none is, and then these are the
-- representatives validation reads (validation_representatives.sql) without grouping the rows
-- again.
--
-- The rows are grouped by their subscription_id as staged, and those groups by the id trimmed:
-- so the id is trimmed once per text, not once per row. `has_untrimmed_id`: some row of the text
-- staged its id with surrounding spaces, or empty (then row_texts trims row by row).
create or replace temp table subscription_texts as
with texts_by_staged_id as (
    select
        subscription_id,
        text_hash,
        min(
            raw.staged_row_key(snapshot_date_of_file - $chunk_start, file_number, source_row)
        ) as representative_key,
        max(snapshot_date_of_file) as last_date,
        count(*) as text_rows,
        bit_or(
            cast(1 as hugeint) << cast(snapshot_date_of_file - $chunk_start as integer)
        ) as date_mask
    from staged_row_texts
    group by subscription_id, text_hash
)

select
    nullif(trim(subscription_id), '') as subscription_id_clean,
    text_hash,
    min(representative_key) as representative_key,
    max(last_date) as last_date,
    cast(sum(text_rows) as bigint) as text_rows,
    bit_or(date_mask) as date_mask,
    bool_or(subscription_id is distinct from nullif(trim(subscription_id), '')) as has_untrimmed_id
from texts_by_staged_id
group by nullif(trim(subscription_id), ''), text_hash
