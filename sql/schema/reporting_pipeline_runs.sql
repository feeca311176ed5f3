-- One row per Dagster run of the pipeline: what it covered, how it ended, and why it failed.
create table if not exists reporting.pipeline_runs (
    run_id varchar not null primary key,
    job_name varchar not null,
    status varchar not null,            -- SUCCESS | FAILURE | CANCELED
    window_start date,                  -- partition range of the run (NULL for unpartitioned runs)
    window_end date,
    started_at timestamp,               -- UTC
    finished_at timestamp,              -- UTC
    error varchar                       -- first failure, one line; NULL on success
)
