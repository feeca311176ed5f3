-- One fingerprint per day of the movement log: the sum of the hashes of every movement dated
-- that day and of every first activation on that day. Any inserted, deleted or changed
-- movement (any column) changes the fingerprint of its day.
create or replace view core.movement_day_fingerprints as
with movement_row_hashes as (
    select
        movements.movement_date as day,
        hash(movements) as row_hash
    from core.customer_movements as movements
),

first_activation_row_hashes as (
    select
        activations.first_activation_date as day,
        hash(activations) as row_hash
    from core.customer_first_activation as activations
),

row_hashes as (
    select * from movement_row_hashes
    union all
    select * from first_activation_row_hashes
)

select
    day as movement_date,
    sum(cast(row_hash as hugeint)) + count(*) as movements_fingerprint
from row_hashes
group by day
