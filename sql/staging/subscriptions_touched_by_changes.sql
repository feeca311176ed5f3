-- The subscriptions with a change just stored (`new_subscription_changes`), added to those whose
-- versions' valid_until is recomputed next.
insert into touched_subscriptions
select distinct subscription_id
from new_subscription_changes
