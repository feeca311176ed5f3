-- view_row_texts.sql's view for a chunk where some subscription_id was staged with surrounding
-- spaces, or empty (a text `has_untrimmed_id`, subscription_texts.sql): each row's id trimmed,
-- as validation trims it, each time the view is read.
create or replace temp view row_texts as
select
    snapshot_date_of_file,
    file_number,
    source_row,
    nullif(trim(subscription_id), '') as subscription_id_clean,
    text_hash
from staged_row_texts
