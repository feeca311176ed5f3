-- validated_representatives.sql's results with `content_hash`, what a delivery's
-- content_fingerprint is made of: computed once per validated text (or row of a duplicated
-- key), for view_validated_rows.sql and delivery_accounting_of_texts.sql alike. A view: the
-- history rule may still set a result's rule (quarantine_changed_customers.sql).
create or replace temp view validated_texts as
select
    *,
    -- rejected rows count too: a quarantined subscription keeps its previous state
    hash(
        rule, subscription_id_clean, customer_id_clean, status_canonical, stops_involuntarily_flag,
        mrr_minor_units, currency_clean, plan_clean, started_at_date,
        canceled_at_date, ended_at_date, cancel_reason_clean
    ) as content_hash
from validated_representatives
