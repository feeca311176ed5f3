-- Loaded rows with an empty key, or a subscription_id listed twice in one snapshot.
with null_keys as (
    select snapshot_date, subscription_id, 'empty key' as problem
    from raw.subscription_snapshots
    where subscription_id is null or subscription_id = '' or customer_id is null or customer_id = ''
),

duplicate_keys as (
    select snapshot_date, subscription_id, 'subscription_id listed ' || count(*) || ' times' as problem
    from raw.subscription_snapshots
    group by snapshot_date, subscription_id
    having count(*) > 1
)

select * from null_keys
union all
select * from duplicate_keys
order by snapshot_date, subscription_id
limit 50
