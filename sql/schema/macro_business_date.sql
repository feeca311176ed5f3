-- The business date of an exported date or timestamp text; NULL when it is neither.
-- A bare calendar date (YYYY-MM-DD) is that date: time zones apply to instants, so a day the
-- business time zone skipped (Pacific/Apia 2011-12-30) is still the date written. A timestamp
-- without an offset is read in the session time zone (the business one), one with an offset is
-- converted to it, then its date is taken. 'infinity' and years past 9999 parse but are no
-- dates anyone can use.
create or replace macro raw.business_date_of(value_text) as
    case
        when regexp_full_match(value_text, '[0-9]{4}-[0-9]{2}-[0-9]{2}')
            then try_cast(value_text as date)
        when isfinite(try_cast(value_text as timestamptz))
            and year(try_cast(value_text as timestamptz)) <= 9999
            then cast(try_cast(value_text as timestamptz) as date)
    end
