-- Per customer and snapshot date: paying MRR and whether any subscription pays or is held.
-- Customers with neither are absent (inactive).
create or replace temp table window_customer_states as
select
    snapshot_date,
    customer_id,
    coalesce(sum(mrr_cents) filter (where is_paying), 0) as paying_mrr_cents,
    bool_or(is_paying) as has_paying,
    bool_or(is_held) as has_held
from window_subscription_states
group by snapshot_date, customer_id
having bool_or(is_paying) or bool_or(is_held)
