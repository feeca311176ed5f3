-- Customers with more than one movement on one date (METRICS.md §3 allows one).
select customer_id, movement_date, count(*) as movements
from core.customer_movements
group by all
having count(*) > 1
order by movement_date, customer_id
limit 20
