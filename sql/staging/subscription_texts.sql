-- One row per subscription and text hash of every staged row (row_texts.sql): the earliest
-- row (by date, file number, row), the last date, the number of rows and `date_mask`, the set of
-- dates the text is listed on as bits (bit k: $chunk_start + k days; a chunk spans at most 64
-- calendar dates). A subscription whose texts' rows outnumber the dates their masks cover is
-- listed twice on some date (duplicated_subscription_keys.sql); usually none is, and then
-- these are the representatives validation reads (validation_representatives.sql) without
-- grouping the rows again.
create or replace temp table subscription_texts as
select
    subscription_id_clean,
    text_hash,
    -- the smallest key, as arg_min of itself: min() of a struct beside bit_or() made this
    -- statement three times slower (0.63 s against 0.20 s on a 62-day chunk)
    arg_min(
        {'snapshot_date_of_file': snapshot_date_of_file, 'file_number': file_number, 'source_row': source_row},
        {'snapshot_date_of_file': snapshot_date_of_file, 'file_number': file_number, 'source_row': source_row}
    ) as representative,
    max(snapshot_date_of_file) as last_date,
    count(*) as text_rows,
    bit_or(cast(1 as ubigint) << cast(snapshot_date_of_file - $chunk_start as integer)) as date_mask
from row_texts
group by subscription_id_clean, text_hash
