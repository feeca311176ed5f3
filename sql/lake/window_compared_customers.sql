-- Lake mode: on each snapshot pair of the window, every customer with a state on either
-- snapshot (the lake stores every row, not the changes that warehouse mode compares with:
-- core/window_compared_customers.sql; on a warehouse, this file gives the log that shortcut
-- must equal).
create or replace temp table window_compared_customers as
select
    pairs.snapshot_date as observed_on,
    pairs.previous_snapshot_date,
    states.customer_id
from window_snapshot_pairs as pairs
inner join window_customer_states as states
    on states.snapshot_date = pairs.snapshot_date
union
select
    pairs.snapshot_date as observed_on,
    pairs.previous_snapshot_date,
    states.customer_id
from window_snapshot_pairs as pairs
inner join window_customer_states as states
    on states.snapshot_date = pairs.previous_snapshot_date
