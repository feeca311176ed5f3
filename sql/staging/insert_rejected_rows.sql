-- The rows of `validated_rows` that broke a rule, into the quarantine, quoting the texts
-- they were staged with.
insert into window_rejected_rows
with rejected as (
    select
        validated_rows.snapshot_date_of_file,
        validated_rows.source_row,
        validated_rows.subscription_id_clean,
        validated_rows.rule,
        validated_rows.rule_column,
        staged_rows.source_file,
        staged_rows.* exclude (snapshot_date_of_file, source_file, file_number, source_row)
    from validated_rows
    inner join staged_rows using (snapshot_date_of_file, file_number, source_row)
    where validated_rows.rule is not null
)

select
    snapshot_date_of_file as snapshot_date,
    source_file,
    source_row,
    subscription_id_clean as subscription_id,
    rule_column as column_name,
    case rule_column
        when 'subscription_id' then subscription_id
        when 'customer_id' then customer_id
        when 'status' then status
        when 'mrr' then mrr
        when 'currency' then currency
        when 'started_at' then started_at
        when 'canceled_at' then canceled_at
        when 'ended_at' then ended_at
    end as value,
    rule,
    raw.raw_row_json(
        subscription_id, customer_id, status, mrr, currency, plan, started_at,
        canceled_at, ended_at, cancel_reason, snapshot_date
    ) as raw_row
from rejected
