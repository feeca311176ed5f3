-- reporting.unmapped_reasons: raw churn reasons that no code or keyword matched (so they fell
-- to `other`), most frequent first: the list to read when extending the reason mapping.
create or replace table reporting.unmapped_reasons as
with unmatched_reasons as (
    select reason_raw
    from core.churn_reason_categories
    where matched_rule is null
),

churns as (
    select reason_raw, movement_date, mrr_before
    from reporting.customer_movements
    where movement = 'churn'
),

final as (
    select
        churns.reason_raw,
        count(*) as churned_customers,
        cast(sum(churns.mrr_before) as bigint) as churned_mrr,
        min(churns.movement_date) as first_seen,
        max(churns.movement_date) as last_seen
    from churns
    inner join unmatched_reasons using (reason_raw)
    group by churns.reason_raw
)

select * from final
order by churned_customers desc, reason_raw
