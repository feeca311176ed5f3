"""Loading the snapshot files of a window of dates into `raw.*` in one transaction."""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from churn_pipeline import subscription_changes, warehouse
from churn_pipeline.landing import SnapshotSource, discover, expected_names
from churn_pipeline.settings import PACKAGE_ROOT, Settings
from churn_pipeline.snapshot_files import (
    SnapshotFileError,
    create_staging_table,
    drop_staging,
    estimated_rows,
    stage_sources,
)

DEFAULT_STATUS_MAPPING = PACKAGE_ROOT / "reference" / "status_mapping.csv"
CANONICAL_STATUSES = {"trialing", "active", "past_due", "paused", "canceled"}


class MissingSnapshotError(SnapshotFileError):
    """The newest date of a run has no file: a late or lost export."""


@dataclass
class IngestionSummary:
    window_start: date
    window_end: date
    loaded_dates: list[date] = field(default_factory=list)
    missing_dates: list[date] = field(default_factory=list)
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    source_files: list[str] = field(default_factory=list)
    unknown_columns: dict[str, list[str]] = field(default_factory=dict)
    refused_dates: list[date] = field(default_factory=list)
    rejected_by_rule: dict[str, int] = field(default_factory=dict)
    chunks: int = 0


# status_raw (trimmed, lower case), status, stops_involuntarily
StatusMappingRow = tuple[str, str, bool]
STATUS_MAPPING_COLUMNS = (
    ("status_raw", "varchar"),
    ("status", "varchar"),
    ("stops_involuntarily", "boolean"),
)
DELIVERY_PLAN_COLUMNS = (
    ("snapshot_date", "date"),
    ("status", "varchar"),
    ("source_files", "varchar"),
    ("unknown_columns", "varchar"),
    ("ingested_at", "timestamp"),
)


def load_status_mapping(path: Path) -> list[StatusMappingRow]:
    """The status synonym table; rejects unknown targets and duplicates naming the line."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        expected = {"status_raw", "status", "stops_involuntarily"}
        if not reader.fieldnames or not expected <= set(reader.fieldnames):
            raise SnapshotFileError(
                f"{path}: status mapping needs the columns {', '.join(sorted(expected))}"
            )
        rows: list[StatusMappingRow] = []
        seen: set[str] = set()
        for line, record in enumerate(reader, start=2):
            key = (record["status_raw"] or "").strip().lower()
            target = (record["status"] or "").strip().lower()
            flag = (record["stops_involuntarily"] or "false").strip().lower()
            if not key:
                raise SnapshotFileError(f"{path}, line {line}: empty status_raw")
            if target not in CANONICAL_STATUSES:
                raise SnapshotFileError(
                    f"{path}, line {line}: status {target!r} is not one of {', '.join(sorted(CANONICAL_STATUSES))}"
                )
            if flag not in ("true", "false"):
                raise SnapshotFileError(
                    f"{path}, line {line}: stops_involuntarily must be true or false"
                )
            if key in seen:
                raise SnapshotFileError(f"{path}, line {line}: status_raw {key!r} is listed twice")
            seen.add(key)
            rows.append((key, target, flag == "true"))
    return rows


def status_mapping_for(settings: Settings) -> list[StatusMappingRow]:
    """The default synonyms, with CHURN_STATUS_MAPPING's rows replacing those of the same key."""
    defaults = load_status_mapping(DEFAULT_STATUS_MAPPING)
    if settings.status_mapping_path is None:
        return defaults
    overrides = load_status_mapping(settings.status_mapping_path)
    overridden = {key for key, _, _ in overrides}
    return [row for row in defaults if row[0] not in overridden] + overrides


# A long window is staged, validated and inserted in chunks of consecutive dates, so that a
# backfill never holds every row as text at once: at most CHUNK_DAYS dates, and at most one
# row per STAGED_ROW_BYTES of DuckDB's memory limit (a date with more rows is a chunk alone).
# Measured at 300,000 customers: 31-day chunks of up to 3.4M rows need more than 512MB and
# fit in 3GB; 10-day chunks of up to 1.1M rows fit in 512MB. Longer chunks share more texts
# (subscription_texts.sql): at the bench size 62-day chunks took 16.3 s to 31-day ones' 19.0
# (session 15's machine), and 127-day ones 6.65 s to 62-day ones' 7.05 (a faster machine).
# Since Parquet rows are no longer copied as text, a staged row holds ~100 bytes at its peak
# (session 19: a 3.7M-row chunk, ~500 MB RSS for the whole process): 512 bytes a row instead
# of 1024 cuts the bench into 6 chunks instead of 8 (ingest_window 4.80-4.96 -> 4.42-4.65 s)
# and, at CHURN_DUCKDB_MEMORY_LIMIT=512MB, into 22 instead of 45 (9.9 -> 6.7 s, peak RSS
# 338 -> 362 MB). A CSV chunk holds its texts too, and spills beyond the limit.
# A chunk's dates must fit the bits of a text's date mask, a hugeint (subscription_texts.sql;
# bit 127 is its sign): with more, rows past the last bit's date would be lost.
CHUNK_DAYS = 127
MASK_DAYS = 127
STAGED_ROW_BYTES = 512
MEMORY_UNITS = {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "PiB": 2**50}
# a run window's results, gathered chunk by chunk (both storage modes)
GATHERING_FILES = (
    "staging/window_rejected_rows",
    "staging/window_snapshot_deliveries",
    "staging/view_known_snapshot_deliveries",
)
GATHERING_TABLES = ("window_rejected_rows", "window_snapshot_deliveries", "ingestion_window")
GATHERING_VIEWS = ("known_snapshot_deliveries",)
# per chunk, besides `staged_rows` (snapshot_files)
STAGING_VIEWS = ("validated_rows", "validated_texts", "row_texts")
STAGING_TABLES = (
    "validated_representatives",
    "validation_representatives",
    "duplicated_subscription_keys",
    "subscription_texts",
    "staged_row_texts",
    "changed_customer_of_record",
    "delivery_accounting",
    "delivery_plan",
)


@dataclass(frozen=True)
class _PlannedDate:
    snapshot_date: date
    source: SnapshotSource | None  # None: a gap (a later snapshot exists)


def ingest_window(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    window_start: date,
    window_end: date,
    for_lake: bool = False,
) -> IngestionSummary:
    """Load every date in [window_start, window_end] (both inclusive), replacing what was there.

    A date without a file is recorded as a gap when a later snapshot exists in the landing
    folder; when no later file exists the export is late or lost, and the run fails naming
    the expected file rather than treating every customer as churned.

    The window's dates are staged, validated and compared a chunk at a time (`chunked`: so a
    multi-year backfill never holds every row as text at once), gathering the results in temp
    tables; then one transaction replaces the window's rows with them. A bad file anywhere
    fails the run before anything is written.

    `for_lake`: `conn` is a lake run's in-memory database, which holds only this window. The
    history rule (a subscription keeps its customer_id) is then left to the lake's raw views,
    and the texts that rule needs are kept in `lake_row_texts`.
    """
    plan = _plan_window(settings, window_start, window_end)
    summary = IngestionSummary(window_start, window_end)
    warehouse.table_from_rows(
        conn, "status_mapping", STATUS_MAPPING_COLUMNS, status_mapping_for(settings)
    )
    ingested_at = datetime.now(UTC).replace(tzinfo=None)
    window = {"window_start": window_start, "window_end": window_end}
    rejected_by_rule: Counter[str] = Counter()
    # before the transaction: a footer DuckDB cannot read would abort it
    sources = [planned.source for planned in plan if planned.source is not None]
    chunks = chunked(plan, estimated_rows(conn, sources), _chunk_row_budget(conn))
    summary.chunks = len(chunks)
    warehouse.table_from_rows(
        conn, "ingestion_window", subscription_changes.WINDOW_COLUMNS, [(window_start, window_end)]
    )
    try:
        # Gathered chunk by chunk outside any transaction, so that each chunk's staging tables
        # are freed when dropped (inside one, DuckDB keeps them until the commit: 145 MB a
        # chunk at the benchmark's size); then stored in one transaction.
        for name in GATHERING_FILES:
            warehouse.run(conn, settings, name)
        if for_lake:
            warehouse.run(conn, settings, "staging/delete_subscription_snapshots_window", window)
        else:
            subscription_changes.prepare(conn, settings)
        with warehouse.checkpoints_deferred(conn):
            for chunk in chunks:
                rejected_by_rule.update(
                    _ingest_chunk(conn, settings, chunk, ingested_at, summary, for_lake)
                )
        with warehouse.transaction(conn):
            warehouse.run(conn, settings, "staging/delete_rejected_rows_window", window)
            warehouse.run(conn, settings, "staging/delete_snapshot_deliveries_window", window)
            if not for_lake:
                subscription_changes.store_window(conn, settings, window_start, window_end)
            warehouse.run(conn, settings, "staging/store_window_rejected_rows")
            warehouse.run(conn, settings, "staging/store_window_snapshot_deliveries")
    finally:
        _drop_chunk_tables(conn)
        subscription_changes.drop_staging(conn)
        for view in GATHERING_VIEWS:
            conn.execute(f"drop view if exists {view}")
        for table in (*GATHERING_TABLES, "status_mapping"):
            conn.execute(f"drop table if exists {table}")
    refused = conn.execute(
        "select snapshot_date from raw.snapshot_deliveries where status = 'refused' "
        "and snapshot_date between $window_start and $window_end order by 1",
        window,
    ).fetchall()
    summary.refused_dates = [row[0] for row in refused]
    summary.rejected_by_rule = dict(
        sorted(rejected_by_rule.items(), key=lambda item: (-item[1], item[0]))
    )
    return summary


def chunked(
    plan: list[_PlannedDate], rows_by_date: dict[date, int], row_budget: int | None
) -> list[list[_PlannedDate]]:
    """Consecutive dates, at most CHUNK_DAYS of them and `row_budget` rows (if any) a chunk."""
    if not 1 <= CHUNK_DAYS <= MASK_DAYS:
        raise ValueError(f"CHUNK_DAYS is {CHUNK_DAYS}; a chunk holds 1 to {MASK_DAYS} dates")
    chunks: list[list[_PlannedDate]] = []
    chunk: list[_PlannedDate] = []
    chunk_rows = 0
    for planned in plan:
        rows = rows_by_date.get(planned.snapshot_date, 0)
        over_budget = row_budget is not None and chunk_rows + rows > row_budget
        if chunk and (len(chunk) == CHUNK_DAYS or over_budget):
            chunks.append(chunk)
            chunk, chunk_rows = [], 0
        chunk.append(planned)
        chunk_rows += rows
    if chunk:
        chunks.append(chunk)
    return chunks


def _chunk_row_budget(conn: duckdb.DuckDBPyConnection) -> int | None:
    """Rows per chunk under the connection's memory limit; None when it has no limit."""
    row = conn.execute("select current_setting('memory_limit')").fetchone()
    match = re.fullmatch(r"([0-9.]+) ?(bytes|[KMGTP]iB)", str(row[0]) if row else "")
    if not match:
        return None
    return max(1, int(float(match[1]) * MEMORY_UNITS[match[2]]) // STAGED_ROW_BYTES)


def _plan_window(settings: Settings, window_start: date, window_end: date) -> list[_PlannedDate]:
    sources = discover(settings.landing_dir)
    latest_available = max(sources, default=None)
    plan = []
    day = window_start
    while day <= window_end:
        source = sources.get(day)
        if source is None and (latest_available is None or latest_available < day):
            raise MissingSnapshotError(
                f"no snapshot file for {day} in {settings.landing_dir} (expected {expected_names(day)}); "
                "the export is late or lost. Re-run this date once the file has arrived"
            )
        plan.append(_PlannedDate(day, source))
        day += timedelta(days=1)
    return plan


def _ingest_chunk(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    chunk: list[_PlannedDate],
    ingested_at: datetime,
    summary: IngestionSummary,
    for_lake: bool,
) -> dict[str, int]:
    """Stage, validate and insert some consecutive dates; returns rejected rows by rule."""
    create_staging_table(conn)
    sources = [planned.source for planned in chunk if planned.source is not None]
    staged = stage_sources(conn, sources)
    unknown_columns = dict(zip(sources, staged.unknown_columns, strict=True))
    plan_rows = []
    for planned in chunk:
        day, source = planned.snapshot_date, planned.source
        if source is None:
            summary.missing_dates.append(day)
            plan_rows.append((day, "missing", None, None, ingested_at))
            continue
        unknown = unknown_columns[source]
        if unknown:
            summary.unknown_columns[source.label] = unknown
        summary.loaded_dates.append(day)
        summary.source_files.extend(str(p) for p in source.paths)
        plan_rows.append((day, "loaded", source.label, ", ".join(unknown) or None, ingested_at))

    params = {
        "currency": settings.currency,
        "currency_exponent": settings.currency_exponent,
        "max_mrr_minor_units": settings.max_mrr * 10**settings.currency_exponent,
    }
    with staged.read_errors_named():
        _validate(conn, settings, {**params, "chunk_start": chunk[0].snapshot_date})
        if for_lake:
            warehouse.run(conn, settings, "lake/insert_lake_row_texts")
        else:
            _quarantine_changed_customers(conn, settings, chunk[0].snapshot_date)
        _count_deliveries(conn, settings, chunk[0].snapshot_date)
        warehouse.table_from_rows(conn, "delivery_plan", DELIVERY_PLAN_COLUMNS, plan_rows)

        if for_lake:
            warehouse.run(conn, settings, "staging/view_incoming_rows_of_chunk")
            warehouse.run(conn, settings, "staging/insert_subscription_snapshots")
        else:
            file_dates = [planned.snapshot_date for planned in chunk if planned.source is not None]
            subscription_changes.gather_changes(
                conn,
                settings,
                file_dates,
                subscription_changes.previous_file_date(conn, chunk[0].snapshot_date),
            )
        rejected = warehouse.run(conn, settings, "staging/any_rejected_row").fetchone()
        if rejected and rejected[0]:
            warehouse.run(conn, settings, "staging/insert_rejected_rows")
        warehouse.run(
            conn,
            settings,
            "staging/insert_snapshot_deliveries",
            {"quarantine_threshold": settings.quarantine_threshold},
        )
    staged.ensure_unchanged()
    counts = conn.execute(
        "select coalesce(sum(rows_read), 0), coalesce(sum(rows_loaded), 0), coalesce(sum(rows_rejected), 0) "
        "from delivery_accounting"
    ).fetchone()
    read, loaded, rejected = (int(v) for v in counts or (0, 0, 0))
    summary.rows_read += read
    summary.rows_loaded += loaded
    summary.rows_rejected += rejected
    by_rule = dict(
        conn.execute(
            "select rule, count(*) from window_rejected_rows "
            "where snapshot_date between $first and $last group by rule",
            {"first": chunk[0].snapshot_date, "last": chunk[-1].snapshot_date},
        ).fetchall()
    )
    _drop_chunk_tables(conn)
    return {str(rule): int(count) for rule, count in by_rule.items()}


def _validate(
    conn: duckdb.DuckDBPyConnection, settings: Settings, params: dict[str, object]
) -> None:
    """`validated_rows`: every staged row's canonical values and first broken rule, validating
    one row per subscription and distinct text (staging/validation_representatives.sql)."""
    for name in ("staging/staged_row_texts", "staging/subscription_texts"):
        warehouse.run(conn, settings, name, params)
    row = warehouse.run(conn, settings, "staging/every_staged_id_trimmed").fetchone()
    warehouse.run(
        conn,
        settings,
        "staging/view_row_texts" if row and row[0] else "staging/view_row_texts_trimmed",
    )
    for name in (
        "staging/duplicated_subscription_keys",
        "staging/validation_representatives",
        "staging/staged_keys",
        "staging/validated_representatives",
    ):
        warehouse.run(conn, settings, name, params)
    warehouse.run(conn, settings, "staging/view_validated_texts")
    warehouse.run(conn, settings, "staging/view_validated_rows")


def _count_deliveries(
    conn: duckdb.DuckDBPyConnection, settings: Settings, chunk_start: date
) -> None:
    """`delivery_accounting`: from the texts when each has one row a date (usually), else row
    by row; the same table either way."""
    row = warehouse.run(conn, settings, "staging/each_text_once_a_date").fetchone()
    if row and row[0]:
        warehouse.run(
            conn,
            settings,
            "staging/delivery_accounting_of_texts",
            {"chunk_start": chunk_start, "mask_days": MASK_DAYS},
        )
    else:
        warehouse.run(conn, settings, "staging/delivery_accounting")


def _drop_chunk_tables(conn: duckdb.DuckDBPyConnection) -> None:
    drop_staging(conn)
    for view in STAGING_VIEWS:
        conn.execute(f"drop view if exists {view}")
    for table in STAGING_TABLES:
        conn.execute(f"drop table if exists {table}")


def _quarantine_changed_customers(
    conn: duckdb.DuckDBPyConnection, settings: Settings, first_day: date
) -> None:
    """The history rule: needs the dates before the chunk, so it runs apart from the per-row rules."""
    previous = conn.execute(
        "select max(snapshot_date) from known_snapshot_deliveries "
        "where snapshot_date < $day and rows_loaded > 0",
        {"day": first_day},
    ).fetchone()
    warehouse.run(
        conn,
        settings,
        "staging/changed_customer_of_record",
        {"previous_loaded_date": previous[0] if previous else None},
    )
    changed = conn.execute("select exists (select 1 from changed_customer_of_record)").fetchone()
    if changed and changed[0]:  # an update scans the whole chunk: only when it has work
        warehouse.run(conn, settings, "staging/quarantine_changed_customers")
