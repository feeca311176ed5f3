-- Every staged row's key, subscription_id and text hash (staged_row_texts.sql), for a chunk
-- where every subscription_id was staged trimmed (no text `has_untrimmed_id`,
-- subscription_texts.sql): the staged id is the trimmed one. Else view_row_texts_trimmed.sql.
create or replace temp view row_texts as
select
    snapshot_date_of_file,
    file_number,
    source_row,
    subscription_id as subscription_id_clean,
    text_hash
from staged_row_texts
