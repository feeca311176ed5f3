-- One row per subscription and text hash of every staged row (row_texts.sql): the earliest
-- row (by date, file number, row; as raw.staged_row_key), the last date, the number of rows
-- and `date_mask`, the set of dates the text is listed on as bits of a hugeint (bit k:
-- $chunk_start + k days; a chunk spans at most 127 calendar dates, as bit 127 is the sign). A
-- subscription whose texts' rows outnumber the dates their masks cover is listed twice on some
-- date (duplicated_subscription_keys.sql); usually none is, and then these are the
-- representatives validation reads (validation_representatives.sql) without grouping the rows
-- again.
create or replace temp table subscription_texts as
select
    subscription_id_clean,
    text_hash,
    min(
        raw.staged_row_key(snapshot_date_of_file - $chunk_start, file_number, source_row)
    ) as representative_key,
    max(snapshot_date_of_file) as last_date,
    count(*) as text_rows,
    bit_or(cast(1 as hugeint) << cast(snapshot_date_of_file - $chunk_start as integer)) as date_mask
from row_texts
group by subscription_id_clean, text_hash
