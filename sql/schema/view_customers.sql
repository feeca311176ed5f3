-- Every customer ever active: its first paying day and whether it is of the opening base
-- (active on the first snapshot, so its true first paying day is unknown).
create or replace view core.customers as
with opening_customers as (
    select distinct customer_id
    from core.customer_movements
    where movement = 'opening'
)

select
    activations.customer_id,
    activations.first_activation_date,
    opening_customers.customer_id is not null as is_opening
from core.customer_first_activation as activations
left join opening_customers using (customer_id)
