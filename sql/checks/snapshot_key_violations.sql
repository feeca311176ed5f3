-- Warehouse mode's snapshot_keys_valid check (lake mode's reads every row:
-- lake/check_snapshot_key_violations.sql): rows of the run's dates (else the latest
-- ingestion's) with an empty key, or a subscription_id listed twice in one snapshot.
-- raw.subscription_snapshots expands the listed versions of raw.subscription_changes over the
-- file dates, so such a row comes from a version: one with an empty key, stored on its
-- changed_on; or one valid on a date on which another version of the subscription is valid too,
-- which is true on the later version's changed_on. So the versions stored on the checked dates
-- show every violation whose first date is among them, reading the changes, not every row.
with checked_range as (
    select min(snapshot_date) as first_date, max(snapshot_date) as last_date
    from raw.checked_snapshot_dates(cast($window_start as date), cast($window_end as date))
),

versions_stored_in_range as (
    select rowid as version_id, changed_on, subscription_id, customer_id
    from raw.subscription_changes
    where is_listed
        and changed_on between (select first_date from checked_range) and (select last_date from checked_range)
),

null_keys as (
    select changed_on as snapshot_date, subscription_id, 'empty key' as problem
    from versions_stored_in_range
    where subscription_id is null or subscription_id = '' or customer_id is null or customer_id = ''
),

duplicate_keys as (
    select
        stored.changed_on as snapshot_date,
        stored.subscription_id,
        'subscription_id listed ' || count(*) || ' times' as problem
    from versions_stored_in_range as stored
    inner join raw.subscription_changes as valid_then
        on stored.subscription_id = valid_then.subscription_id
        and valid_then.is_listed
        and valid_then.changed_on <= stored.changed_on
        and valid_then.valid_until > stored.changed_on
    group by stored.version_id, stored.changed_on, stored.subscription_id
    having count(*) > 1
)

select * from null_keys
union all
select * from duplicate_keys
order by snapshot_date, subscription_id, problem
limit 50
