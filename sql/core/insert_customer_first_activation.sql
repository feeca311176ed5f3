-- Rebuilt from the movement log after every movements run (one row per customer ever active).
insert into core.customer_first_activation
select customer_id, min(movement_date) as first_activation_date
from core.customer_movements
where movement in ('opening', 'new')
group by customer_id
