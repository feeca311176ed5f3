"""Lake storage mode: the day-partitioned raw layer as Parquet files under CHURN_LAKE_PATH.

Layout, for the layers subscription_snapshots, rejected_rows and snapshot_deliveries:

    <lake>/<layer>/snapshot_date=YYYY-MM-DD/version=<run start>-<random>/part.parquet

A run writes a new version of each of its dates, the delivery file last: that file commits
the date's version. Each date commits on its own (a window killed half-way has some dates
new and the rest as they were; re-running heals), and runs over different dates never share
a file. The version is stamped when the run starts reading the landing folder, so of two
runs re-writing one date, the one that read the files later wins.

Readers pin what they read: each time a step opens the warehouse (or a check opens the
lake), the `raw` views are re-created over the files of each date's latest committed version
at that moment, so a step sees one consistent lake even while other runs commit. A
superseded version is deleted only once the version that replaced it is SUPERSEDED_GRACE
old, so that no reader still pins it (on a local folder; on object storage old versions stay
and are ignored).

Each layer also holds an empty `snapshot_date=0001-01-01/version=schema` file, so that the
views bind before the first date is written.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from churn_pipeline import warehouse
from churn_pipeline.settings import Settings

LAYERS = ("subscription_snapshots", "rejected_rows", "snapshot_deliveries")  # commit file last
SCHEMA_DATE = date(1, 1, 1)
SCHEMA_VERSION = "schema"
FILE_NAME = "part.parquet"
# the raw layer's tables as DuckDB tables, for the in-memory database a lake run loads into
RAW_TABLE_FILES = (
    "schema/raw_subscription_snapshots",
    *warehouse.RAW_TABLE_FILES,
    "schema/macro_raw_row_json",
    # ingestion's statements call these (validated_representatives.sql, subscription_texts.sql)
    "schema/macro_subscription_row_fingerprint",
    "schema/macro_staged_row_key",
    "schema/macro_staged_row_of_key",
    "lake/lake_row_texts",
)
# the views (and two small tables) that make the lake look like warehouse mode's raw
# tables, in dependency order
RAW_LAYER_FILES = (
    "lake/macro_read_lake_files",
    "lake/view_lake_snapshot_deliveries",
    "lake/view_lake_subscription_snapshots",
    "lake/view_lake_rejected_rows",
    "lake/table_subscription_customer_of_record",
    "lake/view_subscription_snapshots",
    "lake/view_changed_customer_rows",
    "lake/view_rejected_rows",
    "lake/table_snapshot_deliveries",
)
VIEW_LAYER = {
    "lake/view_lake_snapshot_deliveries": "snapshot_deliveries",
    "lake/view_lake_subscription_snapshots": "subscription_snapshots",
    "lake/view_lake_rejected_rows": "rejected_rows",
}
FILES_MARKER = "__LAKE_FILES__"
VERSION_IN_PATH = re.compile(
    r"snapshot_date=(?P<day>\d{4}-\d{2}-\d{2})/version=(?P<version>[^/]+)/"
)
SUPERSEDED_GRACE = timedelta(hours=1)  # longer than any step reads the lake


class LakeError(RuntimeError):
    """The lake cannot be read or written (its path, its files)."""


def is_remote(settings: Settings) -> bool:
    return "://" in settings.lake_path


def layer_glob(settings: Settings, layer: str) -> str:
    return f"{settings.lake_path}/{layer}/*/*/{FILE_NAME}"


def version_path(settings: Settings, layer: str, day: date, version: str) -> str:
    return f"{settings.lake_path}/{layer}/snapshot_date={day.isoformat()}/version={version}/{FILE_NAME}"


def new_version(now: datetime | None = None) -> str:
    """Sortable by the time it is stamped (a run's start); the random part tells apart two runs
    stamped in the same microsecond."""
    moment = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{moment}-{uuid.uuid4().hex[:8]}"


@contextmanager
def loading_database(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with the raw tables: a lake run loads its window here, then writes
    the window's dates to the lake. No file is shared with any other run."""
    conn = warehouse.connect_memory(settings)
    try:
        with warehouse.memory_errors_explained(settings):
            conn.execute("create schema if not exists raw")
            for name in RAW_TABLE_FILES:
                warehouse.run(conn, settings, name)
            yield conn
    finally:
        conn.close()


def committed_versions(conn: duckdb.DuckDBPyConnection, settings: Settings) -> dict[date, str]:
    """Each date's latest committed version, from the names of the delivery files (listed, not
    opened: a file deleted meanwhile cannot fail the listing)."""
    pattern = layer_glob(settings, "snapshot_deliveries")
    try:
        files = conn.execute("select file from glob($pattern)", {"pattern": pattern}).fetchall()
    except duckdb.Error as error:
        raise LakeError(f"cannot list {pattern} (CHURN_LAKE_PATH): {error}") from error
    latest: dict[date, str] = {}
    for (name,) in files:
        match = VERSION_IN_PATH.search(name)
        if match is None:
            continue
        day, version = date.fromisoformat(match["day"]), match["version"]
        if day != SCHEMA_DATE and version > latest.get(day, ""):
            latest[day] = version
    return latest


def ensure_layout(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Write each layer's empty schema file when the layer has none yet."""
    missing = [layer for layer in LAYERS if not _has_schema_file(conn, settings, layer)]
    if not missing:
        return
    with loading_database(settings) as scratch:
        for layer in missing:
            _write_file(
                scratch,
                settings,
                layer_query(settings, layer),
                {"day": SCHEMA_DATE, "quarantine_threshold": settings.quarantine_threshold},
                version_path(settings, layer, SCHEMA_DATE, SCHEMA_VERSION),
            )


def refresh_raw_layer(
    conn: duckdb.DuckDBPyConnection, settings: Settings, write_layout: bool = True
) -> None:
    """The `raw` layer over the lake as it is now (in the warehouse file, or in a reader's
    memory): views over the files of each date's latest committed version, and the two small
    tables of the history rule rebuilt from them."""
    if write_layout:
        ensure_layout(conn, settings)
    elif not _has_schema_file(conn, settings, LAYERS[-1]):
        raise LakeError(f"no lake at {settings.lake_path} yet (CHURN_LAKE_PATH): nothing ingested")
    versions = sorted(committed_versions(conn, settings).items())
    conn.execute("create schema if not exists raw")
    with warehouse.transaction(conn):
        for name in RAW_LAYER_FILES:
            text = warehouse.sql(settings, name)
            if name in VIEW_LAYER:
                layer = VIEW_LAYER[name]
                # The empty schema file goes last: DuckDB estimates a scan's rows from the
                # first file, and an estimate of 0 made it hash every row of the lake to probe
                # a handful (an 8 s join per movement window at the benchmark's size).
                files = [
                    *(version_path(settings, layer, day, version) for day, version in versions),
                    version_path(settings, layer, SCHEMA_DATE, SCHEMA_VERSION),
                ]
                text = text.replace(FILES_MARKER, "[" + ", ".join(map(_literal, files)) + "]")
            conn.execute(text)


@contextmanager
def open_reader(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """The raw layer as views in an in-memory database: reading the lake takes no lock."""
    conn = warehouse.connect_memory(settings)
    try:
        with warehouse.memory_errors_explained(settings):
            refresh_raw_layer(conn, settings, write_layout=False)
            warehouse.run(conn, settings, "schema/macro_checked_snapshot_dates")
            warehouse.run(conn, settings, "schema/macro_drop_check_dates")
            yield conn
    finally:
        conn.close()


@contextmanager
def open_raw_layer(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """Where the raw tables are read in the current storage mode."""
    if settings.lake_mode:
        with open_reader(settings) as conn:
            yield conn
    else:
        with warehouse.open_warehouse(settings) as conn:
            yield conn


def layer_query(settings: Settings, layer: str) -> str:
    return warehouse.sql(settings, f"lake/layer_{layer}")


def write_dates(
    conn: duckdb.DuckDBPyConnection, settings: Settings, days: list[date], version: str
) -> None:
    """Write each date of the loading database to the lake as `version`, then remove what
    earlier versions of those dates may go."""
    ensure_layout(conn, settings)
    params = {"quarantine_threshold": settings.quarantine_threshold}
    for day in days:
        for layer in LAYERS:
            _write_file(
                conn,
                settings,
                layer_query(settings, layer),
                {**params, "day": day},
                version_path(settings, layer, day, version),
            )
    remove_superseded_versions(settings, days)


def _write_file(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    query: str,
    params: dict[str, object],
    target: str,
) -> None:
    used = {key: value for key, value in params.items() if f"${key}" in query}
    relation = conn.sql(query, params=used)
    try:
        if is_remote(settings):  # an object appears whole when its upload completes
            relation.write_parquet(target, compression="zstd")
            return
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{FILE_NAME}.{uuid.uuid4().hex}.tmp")
        relation.write_parquet(str(partial), compression="zstd")
        os.replace(partial, path)
    except (duckdb.Error, OSError) as error:
        raise LakeError(f"cannot write {target} (CHURN_LAKE_PATH): {error}") from error


def remove_superseded_versions(settings: Settings, days: Iterable[date] | None = None) -> int:
    """Delete versions that a version committed more than SUPERSEDED_GRACE ago replaced (no
    reader pins them any more), with the leftovers of killed runs once they are that old; for
    `days`, else every date of the lake. Returns the versions deleted."""
    if is_remote(settings):
        return 0
    root = Path(settings.lake_path)
    if days is None:
        days = sorted(
            date.fromisoformat(folder.name.removeprefix("snapshot_date="))
            for folder in (root / "snapshot_deliveries").glob("snapshot_date=*")
            if folder.name != f"snapshot_date={SCHEMA_DATE.isoformat()}"
        )
    cutoff = time.time() - SUPERSEDED_GRACE.total_seconds()
    removed: set[tuple[date, str]] = set()
    for day in days:
        folders = [root / layer / f"snapshot_date={day.isoformat()}" for layer in LAYERS]
        commits = {
            marker.parent.name.removeprefix("version="): marker.stat().st_mtime
            for marker in folders[-1].glob(f"version=*/{FILE_NAME}")
        }
        settled = max(
            (v for v, committed_at in commits.items() if committed_at < cutoff), default=None
        )
        if settled is None:
            continue
        for folder in folders:
            for old in folder.glob("version=*"):
                version = old.name.removeprefix("version=")
                if version < settled and old.stat().st_mtime < cutoff:
                    shutil.rmtree(old, ignore_errors=True)
                    removed.add((day, version))
    return len(removed)


def _has_schema_file(conn: duckdb.DuckDBPyConnection, settings: Settings, layer: str) -> bool:
    target = version_path(settings, layer, SCHEMA_DATE, SCHEMA_VERSION)
    if not is_remote(settings):
        return Path(target).is_file()
    try:
        row = conn.execute("select count(*) from glob($target)", {"target": target}).fetchone()
    except duckdb.Error as error:
        raise LakeError(f"cannot list {target} (CHURN_LAKE_PATH): {error}") from error
    return bool(row and row[0])


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
