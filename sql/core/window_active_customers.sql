-- Active customers on each snapshot date of the window, with their MRR and the first date
-- they were ever active. A customer is active when a subscription pays, or when one is held
-- and the customer has been active (so has paid) before. On the first snapshot of the data
-- a held customer counts as active: its history is unknown and a pause follows paying.
create or replace temp table window_active_customers as
with first_snapshot as (
    select min(snapshot_date) as first_snapshot_date
    from raw.snapshot_deliveries
    where status = 'loaded'
),

activation_before_window as (
    select customer_id, first_activation_date
    from core.customer_first_activation
    where first_activation_date < $window_start
),

activation_in_window as (
    select
        customer_id,
        min(snapshot_date) as first_activation_date
    from window_customer_states
    cross join first_snapshot
    where has_paying or snapshot_date = first_snapshot.first_snapshot_date
    group by customer_id
),

first_activation as (
    select
        customer_id,
        least(activation_before_window.first_activation_date, activation_in_window.first_activation_date)
            as first_activation_date
    from activation_before_window
    full outer join activation_in_window using (customer_id)
),

final as (
    select
        states.snapshot_date,
        states.customer_id,
        states.paying_mrr_cents as mrr_cents,
        first_activation.first_activation_date
    from window_customer_states as states
    cross join first_snapshot
    left join first_activation using (customer_id)
    where states.has_paying
        or states.snapshot_date = first_snapshot.first_snapshot_date
        or first_activation.first_activation_date < states.snapshot_date
)

select * from final
