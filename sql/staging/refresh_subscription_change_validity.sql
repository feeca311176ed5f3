-- Each version of the `touched_subscriptions` is valid until the subscription's next change
-- (9999-12-31 for its latest): run after changes are inserted or deleted. Empties
-- `touched_subscriptions` is left to the caller.
update raw.subscription_changes as change
set valid_until = following_change.valid_until
from (
    select
        subscription_id,
        changed_on,
        lead(changed_on, 1, date '9999-12-31') over (
            partition by subscription_id order by changed_on
        ) as valid_until
    from raw.subscription_changes
    where subscription_id in (select subscription_id from touched_subscriptions)
) as following_change
where change.subscription_id = following_change.subscription_id
    and change.changed_on = following_change.changed_on
    and change.valid_until <> following_change.valid_until
