-- Warehouse mode: the last date a movement window from $window_start may end on and still hold
-- at most $change_rows stored changes (raw.subscription_changes), or NULL when every change
-- from $window_start on fits. derive_movements never ends a window before its WINDOW_DAYS.
with changes_by_date as (
    select changed_on, count(*) as changes
    from raw.subscription_changes
    where changed_on >= $window_start
    group by changed_on
),

changes_up_to_date as (
    select
        changed_on,
        sum(changes) over (order by changed_on) as changes_so_far
    from changes_by_date
),

first_date_over_budget as (
    select min(changed_on) as changed_on
    from changes_up_to_date
    where changes_so_far > $change_rows
)

select changed_on - 1 as last_date
from first_date_over_budget
