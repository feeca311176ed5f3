-- The rows of `validated_rows` that broke a rule, into the quarantine.
insert into raw.rejected_rows
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
from validated_rows
where rule is not null
