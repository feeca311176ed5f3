-- A chunk's changes, into the run window's (window_subscription_changes.sql): what
-- insert_subscription_changes.sql finds by comparing every clean row with the subscription's
-- row on the previous file date, found from *runs* instead (and inserted at once: a table of
-- them copied into the window's cost 0.03 s a chunk). A run is a subscription's clean rows on
-- consecutive file dates of the chunk (numbered in `incoming_dates`) with one value: the rows
-- of one text of a subscription (validation_representatives.sql) on consecutive dates are one
-- run, without reading them again; the rows of any other text (one that comes back after
-- another, or after a date without a row) make a run of each stretch of consecutive dates.
-- Then:
-- - a run is a listed change when its fingerprint differs from the state before it: the run
--   ending the date before, else on the chunk's first date the subscription's state on the
--   previous file date (state_before_incoming.sql), else not listed;
-- - a subscription listed on a date and not on the next (no run starts there) gets an unlisted
--   change there, and so does one listed before the chunk with no run on its first date.
insert into window_subscription_changes by name
with file_dates as (
    select snapshot_date, row_number() over (order by snapshot_date) - 1 as date_index
    from incoming_dates
),

-- a text whose rows are on consecutive file dates (a subscription has at most one such row a
-- date: the rows of a key duplicated on a date are never clean, so never in a run)
text_runs as (
    select
        representatives.subscription_id_clean,
        representatives.text_hash,
        first_dates.date_index as start_index,
        last_dates.date_index as end_index,
        representatives.representative.file_number,  -- its first row, on its first date
        representatives.representative.source_row
    from validation_representatives as representatives
    inner join file_dates as first_dates
        on first_dates.snapshot_date = representatives.representative.snapshot_date_of_file
    inner join file_dates as last_dates
        on last_dates.snapshot_date = representatives.last_date
    where representatives.subscription_id_clean is not null
        and last_dates.date_index - first_dates.date_index + 1 = representatives.text_rows
),

-- the other texts: their rows make runs of their own (a text that comes back after another,
-- or after a date without a row)
texts_in_pieces as (
    select subscription_id_clean, text_hash
    from validation_representatives
    anti join text_runs using (subscription_id_clean, text_hash)
    where subscription_id_clean is not null
),

-- their rows, one a date (a row of a duplicated key is never clean). The `where` repeats the
-- semi join on the hash alone: DuckDB then filters the chunk's rows on it as it scans them
-- (0.119 -> 0.106 s a 127-day chunk).
rows_of_texts_in_pieces as (
    select
        row_texts.subscription_id_clean,
        row_texts.text_hash,
        file_dates.date_index,
        row_texts.file_number,
        row_texts.source_row
    from row_texts
    semi join texts_in_pieces using (subscription_id_clean, text_hash)
    inner join file_dates on file_dates.snapshot_date = row_texts.snapshot_date_of_file
    anti join duplicated_subscription_keys using (snapshot_date_of_file, subscription_id_clean)
    where row_texts.text_hash in (select texts_in_pieces.text_hash from texts_in_pieces)
),

-- each stretch of consecutive file dates of such a text is one run, from its first row. (A run
-- per row gave the same changes: a row's run before it, of the same text, has its fingerprint.
-- At the bench size a 127-day chunk has ~130k such rows in ~2,000 texts: ~190k runs to join
-- with each other instead of ~65k.)
other_runs as (
    select
        subscription_id_clean,
        text_hash,
        min(date_index) as start_index,
        max(date_index) as end_index,
        arg_min(file_number, date_index) as file_number,
        arg_min(source_row, date_index) as source_row
    from (
        select
            *,
            date_index - row_number() over (
                partition by subscription_id_clean, text_hash order by date_index
            ) as stretch
        from rows_of_texts_in_pieces
    )
    group by subscription_id_clean, text_hash, stretch
),

runs as (
    select
        run_rows.subscription_id_clean as subscription_id,
        run_rows.start_index,
        run_rows.end_index,
        run_rows.file_number,
        run_rows.source_row,
        validated.* exclude (subscription_id_clean, text_hash, file_number, source_row)
    from (
        select * from text_runs
        union all
        select * from other_runs
    ) as run_rows
    inner join validated_representatives as validated
        on validated.subscription_id_clean = run_rows.subscription_id_clean
        and validated.text_hash = run_rows.text_hash
        and not validated.is_duplicated
    where validated.rule is null
),

runs_with_the_state_before as (
    select
        runs.*,
        coalesce(run_before.row_fingerprint, state_before.row_fingerprint) as fingerprint_before
    from runs
    left join runs as run_before
        on run_before.subscription_id = runs.subscription_id
        and run_before.end_index = runs.start_index - 1
    left join state_before_incoming as state_before
        on runs.start_index = 0
        and state_before.subscription_id = runs.subscription_id
),

listed_changes as (
    select
        file_dates.snapshot_date as changed_on,
        runs.subscription_id,
        true as is_listed,
        runs.customer_id_clean as customer_id,
        runs.status_canonical as status,
        runs.status_raw_clean as status_raw,
        runs.stops_involuntarily_flag as stops_involuntarily,
        cast(runs.mrr_minor_units as bigint) as mrr_cents,
        runs.currency_clean as currency,
        runs.plan_clean as plan,
        runs.started_at_date as started_at,
        runs.canceled_at_date as canceled_at,
        runs.ended_at_date as ended_at,
        runs.cancel_reason_clean as cancel_reason,
        staged_files.source_file,
        runs.source_row,
        runs.row_fingerprint
    from runs_with_the_state_before as runs
    inner join file_dates on file_dates.date_index = runs.start_index
    inner join staged_files on staged_files.file_number = runs.file_number
    where runs.row_fingerprint is distinct from runs.fingerprint_before
),

unlisted_after_a_run as (
    select
        runs.subscription_id,
        runs.end_index + 1 as date_index,
        runs.customer_id_clean as customer_id
    from runs
    anti join runs as run_after
        on run_after.subscription_id = runs.subscription_id
        and run_after.start_index = runs.end_index + 1
    where runs.end_index < (select max(date_index) from file_dates)
),

unlisted_on_the_first_date as (
    select
        state_before.subscription_id,
        0 as date_index,
        state_before.customer_id
    from state_before_incoming as state_before
    anti join runs
        on runs.subscription_id = state_before.subscription_id
        and runs.start_index = 0
),

unlisted_changes as (
    select
        file_dates.snapshot_date as changed_on,
        unlisted.subscription_id,
        false as is_listed,
        unlisted.customer_id
    from (
        select * from unlisted_after_a_run
        union all
        select * from unlisted_on_the_first_date
    ) as unlisted
    inner join file_dates using (date_index)
)

select *, date '9999-12-31' as valid_until  -- set by refresh_subscription_change_validity.sql
from listed_changes
union all by name
select *, date '9999-12-31' as valid_until
from unlisted_changes
