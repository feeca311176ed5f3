-- The exported texts of the clean rows of `validated_rows` (see lake_row_texts.sql).
insert into lake_row_texts
select
    snapshot_date_of_file as snapshot_date,
    source_file,
    source_row,
    customer_id as customer_id_value,
    raw.raw_row_json(
        subscription_id, customer_id, status, mrr, currency, plan, started_at,
        canceled_at, ended_at, cancel_reason, snapshot_date
    ) as raw_row
from validated_rows
where rule is null
