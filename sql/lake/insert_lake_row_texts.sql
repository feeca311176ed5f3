-- The exported texts of the clean rows of `validated_rows` (see lake_row_texts.sql), from
-- `staged_rows`.
insert into lake_row_texts
select
    staged_rows.snapshot_date_of_file as snapshot_date,
    staged_rows.source_file,
    staged_rows.source_row,
    staged_rows.customer_id as customer_id_value,
    raw.raw_row_json(
        staged_rows.subscription_id, staged_rows.customer_id, staged_rows.status, staged_rows.mrr,
        staged_rows.currency, staged_rows.plan, staged_rows.started_at, staged_rows.canceled_at,
        staged_rows.ended_at, staged_rows.cancel_reason, staged_rows.snapshot_date
    ) as raw_row
from validated_rows
inner join staged_rows using (snapshot_date_of_file, file_number, source_row)
where validated_rows.rule is null
