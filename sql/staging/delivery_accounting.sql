-- Rows read, loaded and rejected per snapshot date of `validated_rows`.
create or replace temp table delivery_accounting as
select
    snapshot_date_of_file as snapshot_date,
    count(*) as rows_read,
    count(*) filter (where rule is null) as rows_loaded,
    count(*) filter (where rule is not null) as rows_rejected,
    -- rejected rows count too: a quarantined subscription keeps its previous state
    bit_xor(
        hash(
            rule, subscription_id_clean, customer_id_clean, status_canonical, stops_involuntarily_flag,
            mrr_minor_units, currency_clean, plan_clean, started_at_date,
            canceled_at_date, ended_at_date, cancel_reason_clean
        )
    ) as content_fingerprint
from validated_rows
group by snapshot_date_of_file
