-- Every staged row's key, its trimmed subscription_id and a hash of the other texts validation
-- reads. A subscription's rows are mostly the same text day after day: validation reads one
-- row per subscription and hash (validation_representatives.sql), and every row takes the
-- result of its text's (view_validated_rows.sql). The column `snapshot_date` is not hashed:
-- staging checks it per file, and validation does not read it.
create or replace temp table row_texts as
select
    snapshot_date_of_file,
    file_number,
    source_row,
    nullif(trim(subscription_id), '') as subscription_id_clean,
    hash(
        customer_id, status, mrr, currency, plan, started_at, canceled_at, ended_at, cancel_reason
    ) as text_hash
from staged_rows
