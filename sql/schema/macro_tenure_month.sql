-- Tenure month on a 1st of a month: whole months from the first paying day to that day (first
-- paid Jan 20 → 0 on Feb 1, 1 on Mar 1; first paid Jan 1 → 1 on Feb 1). Never resets.
create or replace macro core.tenure_month(first_paying_day, month_start) as
    date_diff('month', first_paying_day, month_start)
    - cast(day(first_paying_day) > 1 as integer)
