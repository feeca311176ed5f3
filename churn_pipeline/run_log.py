"""`reporting.pipeline_runs`: how each run ended, in the warehouse and in the published copy.

Recorded by the CLI after its own runs and by run-status sensors for runs the daemon
launches (schedule, file sensor, UI backfills). Recording twice is harmless: a run's row is
replaced. A failure is also written into the published copy, so `churn-pipeline query` shows
it next to the last good tables while the warehouse keeps whatever the failed run left.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import astuple, dataclass
from datetime import UTC, date, datetime

import dagster as dg
import duckdb

from churn_pipeline import warehouse
from churn_pipeline.publish import PUBLISHED_DATABASE
from churn_pipeline.settings import Settings

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
PARTITION_TAG = "dagster/partition"


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    job_name: str
    status: str
    window_start: date | None
    window_end: date | None
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None


def record_for(instance: dg.DagsterInstance, run: dg.DagsterRun, error: str | None) -> RunRecord:
    stats = instance.get_run_stats(run.run_id)
    start = run.tags.get(RANGE_START_TAG) or run.tags.get(PARTITION_TAG)
    end = run.tags.get(RANGE_END_TAG) or run.tags.get(PARTITION_TAG)
    return RunRecord(
        run_id=run.run_id,
        job_name=run.job_name,
        status=run.status.value,
        window_start=date.fromisoformat(start) if start else None,
        window_end=date.fromisoformat(end) if end else None,
        started_at=_utc(stats.start_time),
        finished_at=_utc(stats.end_time),
        error=" ".join(error.split()) if error else None,
    )


def record_run(settings: Settings, record: RunRecord) -> None:
    with warehouse.open_warehouse(settings) as conn:
        with warehouse.transaction(conn):
            conn.execute(
                "delete from reporting.pipeline_runs where run_id = $run_id",
                {"run_id": record.run_id},
            )
            conn.execute(
                "insert into reporting.pipeline_runs values (?, ?, ?, ?, ?, ?, ?, ?)",
                list(astuple(record)),
            )
        columns = conn.execute(
            "select column_name, data_type from duckdb_columns() "
            "where schema_name = 'reporting' and table_name = 'pipeline_runs' "
            "and database_name = current_database() order by column_index"
        ).fetchall()
        runs = conn.execute(
            "select * from reporting.pipeline_runs order by started_at, run_id"
        ).fetchall()
    _mirror_into_published_copy(settings, columns, runs)


def _mirror_into_published_copy(
    settings: Settings, columns: list[tuple[str, str]], runs: list[tuple[object, ...]]
) -> None:
    """Replace the published copy's run log, in the DuckDB copy and its Parquet export (write a
    copy, then rename over the original)."""
    target = settings.published_dir / PUBLISHED_DATABASE
    settings.published_dir.mkdir(parents=True, exist_ok=True)
    staging = settings.published_dir / f".{PUBLISHED_DATABASE}.runlog.{os.getpid()}.tmp"
    staging.unlink(missing_ok=True)
    if target.exists():
        shutil.copyfile(target, staging)
    parquet_dir = settings.published_dir / "parquet"
    parquet_dir.mkdir(exist_ok=True)
    parquet_staging = parquet_dir / f".pipeline_runs.{os.getpid()}.tmp"
    conn = duckdb.connect(str(staging))
    try:
        warehouse.table_from_rows(conn, "main.pipeline_runs", columns, runs, temporary=False)
        conn.execute(
            "copy main.pipeline_runs to $path (format parquet)", {"path": str(parquet_staging)}
        )
    finally:
        conn.close()
    os.replace(staging, target)
    os.replace(parquet_staging, parquet_dir / "pipeline_runs.parquet")


def _utc(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC).replace(tzinfo=None) if timestamp else None
