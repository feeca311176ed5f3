-- core.customer_state_spans: each movement with the days its state lasts, [valid_from,
-- valid_until): from its date to the day before the customer's next movement (9999-12-31 for
-- the latest one). A customer's state on a day is that of the one span holding the day
-- (movement 'churn': inactive; otherwise active with mrr_after), none before its first
-- movement. A customer has at most one movement per date (check duplicate_movements).
-- The marts join on customer_id with the day inside the span: a hash join, where an ASOF join
-- on the movement log sorted every side (twice as slow on the benchmark's 730 days).
create or replace view core.customer_state_spans as
select
    customer_id,
    movement_date as valid_from,
    lead(movement_date, 1, date '9999-12-31') over (
        partition by customer_id order by movement_date
    ) as valid_until,
    movement,
    mrr_after
from core.customer_movements
