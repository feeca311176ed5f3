-- The start of the period of a grain that holds a day: ISO weeks start on Monday,
-- half-years on January 1 and July 1.
create or replace macro core.period_start_of(grain, day) as
    case grain
        when 'day' then cast(day as date)
        when 'week' then cast(date_trunc('week', day) as date)
        when 'month' then cast(date_trunc('month', day) as date)
        when 'quarter' then cast(date_trunc('quarter', day) as date)
        when 'half_year' then make_date(year(day), case when month(day) <= 6 then 1 else 7 end, 1)
        when 'year' then cast(date_trunc('year', day) as date)
    end
