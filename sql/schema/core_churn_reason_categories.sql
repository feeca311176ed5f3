-- Every distinct non-empty raw churn reason with its category from the reason mapping.
create table if not exists core.churn_reason_categories (
    reason_raw varchar not null primary key,
    mapped_category varchar not null,   -- a category of METRICS.md §6, `other` when no rule matched
    matched_rule varchar                -- the code or keyword that decided it; NULL for `other`
)
