-- The staged rows to validate, read back from the files with their texts: each text's
-- representative and every row of a duplicated key (staged_keys.sql); with their canonical
-- values and the first validation rule each breaks (NULL when it is clean).
-- view_validated_rows.sql gives every staged row its result. Reads the temp table
-- `status_mapping` too; one row per row to validate, keyed by (snapshot_date_of_file,
-- file_number, source_row). The rows are read and validated in one statement: validating a
-- table of the rows read (~55,000 a chunk, one or two row groups) ran on one thread, and
-- took 1.4 s of a two-year backfill on its own. They are read through `staged_rows_of_keys`
-- (snapshot_files.py), which joins the files' rows with `staged_keys` before casting their
-- texts.
create or replace temp table validated_representatives as
with staged as (
    select
        staged_rows_of_keys.*,
        staged_keys.text_hash,
        staged_keys.is_duplicated
    from staged_rows_of_keys
    inner join staged_keys using (snapshot_date_of_file, file_number, source_row)
),

status_mapping_lookup as (
    select lower(trim(status_raw)) as status_key, status, stops_involuntarily
    from status_mapping
),

date_texts as (
    select
        *,
        nullif(trim(started_at), '') as started_at_text,
        nullif(trim(canceled_at), '') as canceled_at_text,
        nullif(trim(ended_at), '') as ended_at_text
    from staged
),

-- A bare calendar date (YYYY-MM-DD) is that date, with no time zone (metric decision 30). Any
-- other text is parsed once as a timestamp: read in the session time zone (the business one)
-- when it has no offset, converted to it when it has one. The shape test is written out in
-- each branch, not kept as a column: its `length` short-circuits the regex for timestamps,
-- which then cost 8 % more than before, where a flag column cost 25 %.
parsed_dates as (
    select
        *,
        case
            when length(started_at_text) = 10 and regexp_full_match(started_at_text, '[0-9]{4}-[0-9]{2}-[0-9]{2}')
                then try_cast(started_at_text as date)
        end as started_at_bare_date,
        case
            when length(canceled_at_text) = 10 and regexp_full_match(canceled_at_text, '[0-9]{4}-[0-9]{2}-[0-9]{2}')
                then try_cast(canceled_at_text as date)
        end as canceled_at_bare_date,
        case
            when length(ended_at_text) = 10 and regexp_full_match(ended_at_text, '[0-9]{4}-[0-9]{2}-[0-9]{2}')
                then try_cast(ended_at_text as date)
        end as ended_at_bare_date,
        case
            when length(started_at_text) <> 10 or not regexp_full_match(started_at_text, '[0-9]{4}-[0-9]{2}-[0-9]{2}')
                then try_cast(started_at_text as timestamptz)
        end as started_at_timestamp,
        case
            when length(canceled_at_text) <> 10 or not regexp_full_match(canceled_at_text, '[0-9]{4}-[0-9]{2}-[0-9]{2}')
                then try_cast(canceled_at_text as timestamptz)
        end as canceled_at_timestamp,
        case
            when length(ended_at_text) <> 10 or not regexp_full_match(ended_at_text, '[0-9]{4}-[0-9]{2}-[0-9]{2}')
                then try_cast(ended_at_text as timestamptz)
        end as ended_at_timestamp
    from date_texts
),

cleaned as (
    select
        parsed.*,
        nullif(trim(parsed.subscription_id), '') as subscription_id_clean,
        nullif(trim(parsed.customer_id), '') as customer_id_clean,
        status_mapping_lookup.status as status_canonical,
        coalesce(status_mapping_lookup.stops_involuntarily, false) as stops_involuntarily_flag,
        nullif(trim(parsed.mrr), '') as mrr_text,
        try_cast(nullif(trim(parsed.mrr), '') as decimal(38, 12)) as mrr_decimal,
        upper(coalesce(nullif(trim(parsed.currency), ''), $currency)) as currency_clean,
        -- 'infinity' and years past 9999 parse but are no dates anyone can use: invalid
        coalesce(
            parsed.started_at_bare_date,
            case
                when isfinite(parsed.started_at_timestamp) and year(parsed.started_at_timestamp) <= 9999
                    then cast(parsed.started_at_timestamp as date)
            end
        ) as started_at_date,
        coalesce(
            parsed.canceled_at_bare_date,
            case
                when isfinite(parsed.canceled_at_timestamp) and year(parsed.canceled_at_timestamp) <= 9999
                    then cast(parsed.canceled_at_timestamp as date)
            end
        ) as canceled_at_date,
        coalesce(
            parsed.ended_at_bare_date,
            case
                when isfinite(parsed.ended_at_timestamp) and year(parsed.ended_at_timestamp) <= 9999
                    then cast(parsed.ended_at_timestamp as date)
            end
        ) as ended_at_date
    from parsed_dates as parsed
    left join status_mapping_lookup
        on lower(trim(parsed.status)) = status_mapping_lookup.status_key
),

with_minor_units as (
    select
        cleaned.*,
        -- exact decimal arithmetic, rounding half away from zero (= half up for MRR >= 0);
        -- NULL above 10^20 major units, where decimal(38, 12) would overflow (above any ceiling)
        case
            when mrr_decimal < 1e20 then cast(
                round(mrr_decimal * case $currency_exponent when 0 then 1 when 1 then 10 when 2 then 100 else 1000 end)
                as hugeint
            )
        end as mrr_minor_units
    from cleaned
),

first_broken_rule as (
    select
        *,
        case
            when subscription_id_clean is null then 'missing_subscription_id'
            when customer_id_clean is null then 'missing_customer_id'
            when status_canonical is null then 'unknown_status'
            when mrr_text is null then 'missing_mrr'
            when mrr_decimal is null then 'invalid_mrr'
            when mrr_decimal < 0 then 'negative_mrr'
            when mrr_minor_units is null or mrr_minor_units > $max_mrr_minor_units then 'mrr_above_ceiling'
            when currency_clean <> $currency then 'foreign_currency'
            when started_at_text is not null and started_at_date is null then 'invalid_started_at'
            when canceled_at_text is not null and canceled_at_date is null then 'invalid_canceled_at'
            when ended_at_text is not null and ended_at_date is null then 'invalid_ended_at'
            when is_duplicated then 'duplicate_subscription_id'
        end as rule
    from with_minor_units
),

-- what the later statements read: the row's key, the canonical values and the rule. The
-- staged texts stay in `staged_rows` (the few rejected rows are joined back to quote them),
-- so the accounting and the insert scan eleven columns fewer.
final as (
    select
        snapshot_date_of_file,
        file_number,
        source_row,
        text_hash,
        is_duplicated,
        subscription_id_clean,
        customer_id_clean,
        status_canonical,
        trim(status) as status_raw_clean,
        stops_involuntarily_flag,
        mrr_minor_units,
        currency_clean,
        nullif(trim(plan), '') as plan_clean,
        nullif(trim(cancel_reason), '') as cancel_reason_clean,
        started_at_date,
        canceled_at_date,
        ended_at_date,
        rule,
        -- what ingestion compares a row with the previous file date's by (warehouse mode)
        raw.subscription_row_fingerprint(
            customer_id_clean, status_canonical, trim(status), stops_involuntarily_flag,
            try_cast(mrr_minor_units as bigint), currency_clean, nullif(trim(plan), ''),
            started_at_date, canceled_at_date, ended_at_date, nullif(trim(cancel_reason), '')
        ) as row_fingerprint,
        case rule
            when 'missing_subscription_id' then 'subscription_id'
            when 'missing_customer_id' then 'customer_id'
            when 'unknown_status' then 'status'
            when 'foreign_currency' then 'currency'
            when 'invalid_started_at' then 'started_at'
            when 'invalid_canceled_at' then 'canceled_at'
            when 'invalid_ended_at' then 'ended_at'
            when 'duplicate_subscription_id' then 'subscription_id'
            when 'missing_mrr' then 'mrr'
            when 'invalid_mrr' then 'mrr'
            when 'negative_mrr' then 'mrr'
            when 'mrr_above_ceiling' then 'mrr'
        end as rule_column
    from first_broken_rule
)

select * from final
