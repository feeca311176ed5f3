-- Rows read, loaded and rejected per snapshot date of `validated_rows`, and a fingerprint of
-- their content. Each text's result is hashed once, on its representative, and every row of
-- the text counts it (what reading `validated_rows` row by row gives, without expanding it).
create or replace temp table delivery_accounting as
with results_of_texts as (
    select
        *,
        -- rejected rows count too: a quarantined subscription keeps its previous state
        hash(
            rule, subscription_id_clean, customer_id_clean, status_canonical, stops_involuntarily_flag,
            mrr_minor_units, currency_clean, plan_clean, started_at_date,
            canceled_at_date, ended_at_date, cancel_reason_clean
        ) as content_hash
    from validated_representatives
),

rows_of_a_representative as (
    select
        row_texts.snapshot_date_of_file,
        results.rule,
        results.content_hash
    from row_texts
    anti join duplicated_subscription_keys using (snapshot_date_of_file, subscription_id_clean)
    inner join results_of_texts as results
        on results.subscription_id_clean is not distinct from row_texts.subscription_id_clean
        and results.text_hash = row_texts.text_hash
        and not results.is_duplicated
),

rows_validated_alone as (
    select snapshot_date_of_file, rule, content_hash
    from results_of_texts
    where is_duplicated
),

every_row as (
    select * from rows_of_a_representative
    union all
    select * from rows_validated_alone
)

select
    snapshot_date_of_file as snapshot_date,
    count(*) as rows_read,
    count(*) filter (where rule is null) as rows_loaded,
    count(*) filter (where rule is not null) as rows_rejected,
    bit_xor(content_hash) as content_fingerprint
from every_row
group by snapshot_date_of_file
