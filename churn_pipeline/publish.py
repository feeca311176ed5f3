"""Publishing the `reporting` tables where readers never meet the writer's lock.

The copy is written to a temporary file beside the target and renamed over it, so a reader
sees either the previous complete copy or the new one, never a half-written file.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from churn_pipeline.settings import Settings

PUBLISHED_DATABASE = "reporting.duckdb"


def reporting_tables(conn: duckdb.DuckDBPyConnection) -> list[str]:
    rows = conn.execute(
        "select table_name from duckdb_tables() where schema_name = 'reporting' "
        "and database_name = current_database() order by table_name"
    ).fetchall()
    return [row[0] for row in rows]


def publish(conn: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, int]:
    """Copy every reporting table to the published DuckDB file and to Parquet; returns row counts."""
    target_dir = settings.published_dir
    target_dir.mkdir(parents=True, exist_ok=True)
    staging = target_dir / f".{PUBLISHED_DATABASE}.{os.getpid()}.tmp"
    staging.unlink(missing_ok=True)
    parquet_staging = target_dir / f".parquet.{os.getpid()}.tmp"
    shutil.rmtree(parquet_staging, ignore_errors=True)
    parquet_staging.mkdir()
    counts: dict[str, int] = {}
    conn.execute("attach $path as published", {"path": str(staging)})
    try:
        # Tables go to the `main` schema of a file named reporting.duckdb, so that in any
        # client that opens it `reporting.churn_by_period` names the catalog `reporting`
        # (a schema of the same name would make that reference ambiguous).
        for table in reporting_tables(conn):
            conn.execute(f"create table published.main.{table} as select * from reporting.{table}")
            conn.execute(
                f"copy reporting.{table} to $path (format parquet)",
                {"path": str(parquet_staging / f"{table}.parquet")},
            )
            row = conn.execute(f"select count(*) from reporting.{table}").fetchone()
            counts[table] = int(row[0]) if row else 0
        conn.execute(
            "create table published.main.publication as select $published_at as published_at, "
            "$warehouse as warehouse",
            {
                "published_at": datetime.now(UTC).replace(tzinfo=None),
                "warehouse": str(settings.warehouse_path),
            },
        )
    finally:
        conn.execute("detach published")
    os.replace(staging, target_dir / PUBLISHED_DATABASE)
    _replace_parquet(parquet_staging, target_dir / "parquet")
    return counts


def _replace_parquet(staging: Path, target: Path) -> None:
    previous = target.with_name(f".{target.name}.old.{os.getpid()}")
    if target.exists():
        os.replace(target, previous)
    os.replace(staging, target)
    shutil.rmtree(previous, ignore_errors=True)
