-- (date, subscription_id) keys staged more than once: each of their rows is set aside as
-- `duplicate_subscription_id` (unless it breaks an earlier rule), so each is validated on its
-- own rather than through its text's representative. Only the rows of a subscription whose
-- texts have more rows than dates (subscription_texts.sql) are grouped by date: usually none.
create or replace temp table duplicated_subscription_keys as
with subscriptions_listed_twice_on_a_date as (
    select subscription_id_clean
    from subscription_texts
    where subscription_id_clean is not null
    group by subscription_id_clean
    having sum(text_rows) > bit_count(bit_or(date_mask))
)

select snapshot_date_of_file, subscription_id_clean
from row_texts
semi join subscriptions_listed_twice_on_a_date using (subscription_id_clean)
group by all
having count(*) > 1
