-- Warehouse mode: the (snapshot date, customer) whose state the window computes: each
-- compared customer on the pair's snapshot and on the previous one.
create or replace temp table window_compared_customer_dates as
select observed_on as snapshot_date, customer_id
from window_compared_customers
union
select previous_snapshot_date as snapshot_date, customer_id
from window_compared_customers
where previous_snapshot_date is not null
