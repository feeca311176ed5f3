-- The forecast's hazard buckets: tenure months 0–11 each, 12 and more pooled, the opening base
-- (first paying day unknown) apart.
create or replace macro core.hazard_bucket(is_opening, tenure_month) as
    case
        when is_opening then 'opening'
        when tenure_month >= 12 then '12+'
        else cast(tenure_month as varchar)
    end
