-- Activations first seen in the re-derived window (earlier ones are kept as they were).
insert into core.customer_first_activation
select customer_id, min(movement_date) as first_activation_date
from core.customer_movements
where movement in ('opening', 'new')
    and observed_on >= $window_start
    and customer_id not in (select customer_id from core.customer_first_activation)
group by customer_id
