-- The chunk's loaded subscriptions into raw.subscription_first_loaded_dates: new ids are added,
-- known ones keep the earlier of the two dates. Runs after insert_subscription_snapshots.sql.
merge into raw.subscription_first_loaded_dates as known
using (
    select
        subscription_id_clean as subscription_id,
        min(snapshot_date_of_file) as first_loaded_date
    from validated_rows
    where rule is null
    group by subscription_id_clean
) as chunk_subscriptions
on known.subscription_id = chunk_subscriptions.subscription_id
when matched and chunk_subscriptions.first_loaded_date < known.first_loaded_date
    then update set first_loaded_date = chunk_subscriptions.first_loaded_date
when not matched
    then insert (subscription_id, first_loaded_date)
    values (chunk_subscriptions.subscription_id, chunk_subscriptions.first_loaded_date)
