-- (date, subscription_id) keys staged more than once: each of their rows is set aside as
-- `duplicate_subscription_id` (unless it breaks an earlier rule), so each is validated on its
-- own rather than through its text's representative.
create or replace temp table duplicated_subscription_keys as
select snapshot_date_of_file, subscription_id_clean
from row_texts
where subscription_id_clean is not null
group by all
having count(*) > 1
