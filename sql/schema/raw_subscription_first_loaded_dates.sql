-- Every subscription_id ever loaded into raw.subscription_snapshots, with a date on or before its
-- earliest loaded row (warehouse mode). Maintained by ingestion, never shrunk: a re-run that
-- deletes rows leaves an id and a date that are too early, never one too late. So an id that is
-- missing here, or whose date is on or after a given day, has no loaded row before that day:
-- the history rule (staging/quarantine_changed_customers.sql) searches the older history only
-- for the other ids, and a night with only brand-new subscriptions does not read it at all.
create table if not exists raw.subscription_first_loaded_dates (
    subscription_id varchar not null,
    first_loaded_date date not null
)
