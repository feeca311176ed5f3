"""DuckDB access: connections with retries on the file lock, SQL files, transactions.

Every write goes through `transaction()`: one statement per `execute`, committed together
or rolled back together (DuckDB commits each statement of a multi-statement string on its
own, so a failure half-way would otherwise leave a table half-written).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

from churn_pipeline.settings import Settings

LOCK_RETRY_PAUSES = (0.2, 0.5, 1, 2, 4, 8)  # then every 10 s until CHURN_LOCK_TIMEOUT_SECONDS


class WarehouseLockedError(RuntimeError):
    """Another process holds the warehouse file for too long."""


class WarehouseMemoryError(RuntimeError):
    """A statement needed more memory than CHURN_DUCKDB_MEMORY_LIMIT, even after spilling."""


@contextmanager
def memory_errors_explained(settings: Settings) -> Iterator[None]:
    """DuckDB's out-of-memory error, restated with the setting that bounds it and what to do.

    DuckDB spills what it can to disk (`<warehouse>.tmp`); some work cannot spill, and then it
    fails instead.
    """
    try:
        yield
    except duckdb.OutOfMemoryException as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else "out of memory"
        raise WarehouseMemoryError(
            f"DuckDB needed more memory than CHURN_DUCKDB_MEMORY_LIMIT={settings.duckdb_memory_limit} "
            f"allows, even after spilling to disk ({detail}). Raise CHURN_DUCKDB_MEMORY_LIMIT "
            "(512MB completes the benchmark's 730-day backfill of 21M snapshot rows, and of three "
            "times as many; 3GB is the default) or lower CHURN_DUCKDB_THREADS, then run again: "
            "nothing was half-written"
        ) from None


@cache
def _read_sql_file(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def sql(settings: Settings, name: str) -> str:
    """The text of `sql/<name>.sql`; one statement per file."""
    path = settings.sql_dir / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"SQL file {path} is missing (CHURN_SQL_DIR={settings.sql_dir})")
    return _read_sql_file(path)


def connect(settings: Settings, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, waiting with backoff while another process holds its file lock.

    DuckDB lets one process hold a database file for writing; a second writer (another
    run, a `dagster dev` materialization) waits here instead of failing, for at most
    CHURN_LOCK_TIMEOUT_SECONDS.
    """
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    config = {"memory_limit": settings.duckdb_memory_limit, "threads": settings.duckdb_threads}
    deadline = time.monotonic() + settings.lock_timeout_seconds
    attempt = 0
    while True:
        try:
            conn = duckdb.connect(str(settings.warehouse_path), read_only=read_only, config=config)
            break
        except duckdb.IOException as error:
            if "lock" not in str(error).lower():
                raise
            if time.monotonic() >= deadline:
                raise WarehouseLockedError(
                    f"the warehouse {settings.warehouse_path} stayed locked by another process for "
                    f"{settings.lock_timeout_seconds}s (CHURN_LOCK_TIMEOUT_SECONDS)"
                ) from None
            pause = LOCK_RETRY_PAUSES[attempt] if attempt < len(LOCK_RETRY_PAUSES) else 10
            time.sleep(min(pause, max(deadline - time.monotonic(), 0.05)))
            attempt += 1
    _set_time_zone(conn, settings)
    return conn


def connect_memory(settings: Settings) -> duckdb.DuckDBPyConnection:
    """An in-memory database with the warehouse's limits (lake mode's loading and reading).

    It spills where the warehouse's own connection does (`<warehouse>.tmp`; DuckDB names each
    process's files apart): an in-memory database's default is `.tmp` in the working directory.
    """
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    config = {
        "memory_limit": settings.duckdb_memory_limit,
        "threads": settings.duckdb_threads,
        "temp_directory": f"{settings.warehouse_path}.tmp",
    }
    conn = duckdb.connect(":memory:", config=config)
    _set_time_zone(conn, settings)
    return conn


def cursor(conn: duckdb.DuckDBPyConnection, settings: Settings) -> duckdb.DuckDBPyConnection:
    """Another connection to `conn`'s database, for another thread, in the business time zone
    (a connection does not inherit the session settings of the one it was made from)."""
    duplicate = conn.cursor()
    _set_time_zone(duplicate, settings)
    return duplicate


def _set_time_zone(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    # timestamps without an offset are business time; set after connecting, once ICU is loaded
    conn.execute("set TimeZone = $timezone", {"timezone": settings.timezone})


@contextmanager
def open_warehouse(
    settings: Settings, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = connect(settings, read_only=read_only)
    try:
        with memory_errors_explained(settings):
            if not read_only:
                ensure_schema(conn, settings)
            yield conn
    finally:
        conn.close()


ROWS_PER_INSERT = 500


def table_from_rows(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    columns: Sequence[tuple[str, str]],
    rows: Iterable[Sequence[Any]],
    temporary: bool = True,
) -> None:
    """A (temp) table of a few Python rows (a mapping, a plan), with its column types spelled out.

    Small lookups go in as parameters rather than a registered DataFrame or Arrow table: the
    nightly path then never imports pandas or pyarrow (half a second of every run's start).
    """
    conn.execute(
        f"create or replace {'temp ' if temporary else ''}table {name} ("
        + ", ".join(f"{column} {column_type}" for column, column_type in columns)
        + ")"
    )
    rows = list(rows)
    # one statement per ROWS_PER_INSERT rows: executemany runs one per row (~0.5 ms each, 1 s
    # of a backfill's chunk plans and date lists)
    placeholders = "(" + ", ".join("?" for _ in columns) + ")"
    for first in range(0, len(rows), ROWS_PER_INSERT):
        batch = rows[first : first + ROWS_PER_INSERT]
        conn.execute(
            f"insert into {name} values " + ", ".join(placeholders for _ in batch),
            [value for row in batch for value in row],
        )


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    conn.begin()
    try:
        yield conn
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


@contextmanager
def checkpoints_deferred(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """No automatic checkpoint while inside: for statements that write temp tables only.

    Since DuckDB 1.4 temp tables are checkpointed like any in-memory table, each time ~16 MiB
    (checkpoint_threshold) has been written: vacuuming and rewriting tables that ingestion drops
    a chunk later. At the bench size that cost ~0.2-0.4 s of a backfill's ingestion (one
    statement took 0.16 s, 0.14 s of it a checkpoint). The threshold is the database instance's,
    so it is put back on the way out, before anything is written to the warehouse itself.
    """
    conn.execute(
        "set variable checkpoint_threshold_before = current_setting('checkpoint_threshold')"
    )
    conn.execute("set checkpoint_threshold = '1 TiB'")  # more than any chunk writes
    try:
        yield
    finally:
        conn.execute("set checkpoint_threshold = getvariable('checkpoint_threshold_before')")
        conn.execute("reset variable checkpoint_threshold_before")


def run(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    name: str,
    params: Mapping[str, Any] | None = None,
) -> duckdb.DuckDBPyConnection:
    query = sql(settings, name)
    # DuckDB rejects named parameters that a statement does not use: pass only the used ones.
    used = {key: value for key, value in (params or {}).items() if f"${key}" in query}
    return conn.execute(query, used)


RAW_TABLE_FILES = (  # warehouse mode; lake mode has views over the lake instead (lake.py)
    "schema/raw_snapshot_deliveries",
    "schema/raw_rejected_rows",
)
# warehouse mode's snapshots: stored as changes, read through a view (subscription_changes.py)
SNAPSHOT_STORAGE_FILES = (
    "schema/macro_subscription_row_fingerprint",
    "schema/raw_subscription_changes",
    "schema/view_subscription_snapshots",
)
SCHEMA_FINGERPRINT_FILE = "schema/core_schema_fingerprint"  # last, once the rest is applied
WAREHOUSE_RAW_TABLES = {"snapshot_deliveries", "rejected_rows", "subscription_changes"}
SCHEMA_FILES = (
    "schema/macro_raw_row_json",
    "schema/macro_staged_row_key",
    "schema/macro_staged_row_of_key",
    "schema/macro_checked_snapshot_dates",
    "schema/macro_drop_check_dates",
    "schema/view_snapshot_range",
    "schema/core_customer_movements",
    "schema/core_customer_first_activation",
    "schema/core_churn_reason_categories",
    "schema/core_movement_inputs",
    "schema/view_customers",
    "schema/view_customer_state_spans",
    "schema/macro_period_start",
    "schema/macro_tenure_month",
    "schema/macro_hazard_bucket",
    "schema/macro_order_free_sum",
    "schema/reporting_pipeline_runs",
    "schema/core_mart_build_inputs",
    "schema/view_movement_day_fingerprints",
)


class StorageModeError(RuntimeError):
    """The warehouse file was built in the other storage mode (CHURN_STORAGE)."""


def ensure_schema(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Create or update the schemas, tables, views and macros the pipeline reads and writes.

    In warehouse mode this is skipped when the warehouse records that the same definitions were
    applied (core.schema_fingerprint): every step opens the warehouse, and applying them took
    ~15 ms a connection plus a checkpoint when it closed, even when nothing had changed.
    """
    fingerprint = None if settings.lake_mode else _schema_fingerprint(settings.sql_dir)
    if fingerprint is not None and _applied_schema_fingerprint(conn) == fingerprint:
        raw_tables = _raw_tables(conn)
        # a raw table dropped since, or a legacy row table to convert, takes the full path
        if raw_tables >= WAREHOUSE_RAW_TABLES and "subscription_snapshots" not in raw_tables:
            return
    for schema in ("raw", "core", "reporting"):
        conn.execute(f"create schema if not exists {schema}")
    _check_storage_mode(conn, settings)
    if settings.lake_mode:
        from churn_pipeline import lake  # lake.py builds on this module

        lake.refresh_raw_layer(conn, settings)
    else:
        for name in RAW_TABLE_FILES:
            run(conn, settings, name)
        _ensure_snapshot_storage(conn, settings)
    for name in SCHEMA_FILES:
        run(conn, settings, name)
    if fingerprint is not None:
        run(conn, settings, SCHEMA_FINGERPRINT_FILE, {"fingerprint": fingerprint})


@cache
def _schema_fingerprint(sql_dir: Path) -> str:
    """Changes whenever ensure_schema could create, replace or convert anything differently."""
    from churn_pipeline import subscription_changes  # its conversion of a legacy row table

    digest = hashlib.sha256()
    sources = sorted((sql_dir / "schema").glob("*.sql"))
    for path in [*sources, Path(__file__), Path(subscription_changes.__file__)]:
        content = path.read_bytes()
        digest.update(f"{path.parent.name}/{path.name}:{len(content)}:".encode())
        digest.update(content)
    return f"{digest.hexdigest()[:32]}/duckdb-{duckdb.__version__}"


def _applied_schema_fingerprint(conn: duckdb.DuckDBPyConnection) -> str | None:
    try:
        row = conn.execute("select max(fingerprint) from core.schema_fingerprint").fetchone()
    except duckdb.CatalogException:  # a new warehouse, or one written before the fingerprint
        return None
    return str(row[0]) if row and row[0] is not None else None


def _ensure_snapshot_storage(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    from churn_pipeline import subscription_changes  # builds on this module

    run(conn, settings, SNAPSHOT_STORAGE_FILES[0])
    if _raw_tables(conn) & {"subscription_snapshots"}:
        subscription_changes.convert_row_table(conn, settings)
    # the history rule's index before change storage: the changes answer it now
    conn.execute("drop table if exists raw.subscription_first_loaded_dates")
    for name in SNAPSHOT_STORAGE_FILES[1:]:
        run(conn, settings, name)


def _raw_tables(conn: duckdb.DuckDBPyConnection) -> set[str]:
    rows = conn.execute(
        "select table_name from duckdb_tables() where database_name = current_database() "
        "and schema_name = 'raw'"
    ).fetchall()
    return {row[0] for row in rows}


def _check_storage_mode(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    # warehouse mode: raw.subscription_changes (or, before change storage, a table
    # raw.subscription_snapshots); lake mode: a view raw.subscription_snapshots and neither
    tables = _raw_tables(conn) & {"subscription_snapshots", "subscription_changes"}
    lake_view = conn.execute(
        "select 1 from duckdb_views() where database_name = current_database() "
        "and schema_name = 'raw' and view_name = 'subscription_snapshots'"
    ).fetchone()
    if not tables and lake_view is None:
        return
    built_in = "warehouse" if tables else "lake"
    if built_in != settings.storage:
        raise StorageModeError(
            f"the warehouse {settings.warehouse_path} was built in {built_in} mode but "
            f"CHURN_STORAGE={settings.storage}: point CHURN_WAREHOUSE at a new file to switch modes"
        )


def fetch_dicts(
    conn: duckdb.DuckDBPyConnection, query: str, params: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    cursor = conn.execute(query, dict(params or {}))
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
