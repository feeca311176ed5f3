"""Reading one snapshot source (CSV or Parquet) into the text-only staging table.

Everything is staged as text with its 1-based data row number, so that validation in SQL
can name the file, the row, the column and the value of every rejected cell. File-level
problems (unreadable, empty, missing required columns, a snapshot_date column that
disagrees with the file name) raise `SnapshotFileError` with the file's path.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pandas as pd

from churn_pipeline.landing import SnapshotSource

REQUIRED_COLUMNS = ("subscription_id", "customer_id", "status", "mrr")
OPTIONAL_COLUMNS = (
    "currency",
    "plan",
    "started_at",
    "canceled_at",
    "ended_at",
    "cancel_reason",
    "snapshot_date",
)
KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
STAGED_COLUMNS = ("snapshot_date_of_file", "source_file", "source_row", *KNOWN_COLUMNS)


class SnapshotFileError(ValueError):
    """A snapshot file cannot be loaded at all; the message names the file."""


def create_staging_table(conn: duckdb.DuckDBPyConnection) -> None:
    columns = ", ".join(f"{name} varchar" for name in KNOWN_COLUMNS)
    conn.execute(
        "create or replace temp table staged_rows ("
        f"snapshot_date_of_file date, source_file varchar, source_row bigint, {columns})"
    )


def stage_source(conn: duckdb.DuckDBPyConnection, source: SnapshotSource) -> tuple[int, list[str]]:
    """Append the source's rows to `staged_rows`; returns (rows read, unknown column names)."""
    if source.format == "csv":
        frame = _read_csv(source.paths[0])
    else:
        frame = _read_parquet(conn, source.paths)
    present = {c.strip().lower(): c for c in frame.columns if isinstance(c, str)}
    missing = [c for c in REQUIRED_COLUMNS if c not in present]
    if missing:
        raise SnapshotFileError(
            f"{source.label}: required column(s) {', '.join(missing)} missing; found columns: "
            f"{', '.join(map(str, frame.columns)) or '(none)'}"
        )
    if frame.empty:
        raise SnapshotFileError(
            f"{source.label}: the file has a header but no rows; an empty snapshot would "
            "count every customer as churned, so it is refused"
        )
    unknown = sorted(str(c) for c in frame.columns if str(c).strip().lower() not in KNOWN_COLUMNS)
    staged = pd.DataFrame(
        {
            "snapshot_date_of_file": pd.Series([source.snapshot_date] * len(frame), dtype="object"),
            "source_file": frame["__source_file"].astype("str"),
            "source_row": frame["__source_row"].astype("int64"),
            **{
                name: (
                    frame[present[name]]
                    if name in present
                    else pd.Series([None] * len(frame), dtype="object")
                )
                for name in KNOWN_COLUMNS
            },
        }
    )
    _check_snapshot_date_column(staged, source)
    conn.register("staged_frame", staged)
    try:
        conn.execute(
            f"insert into staged_rows ({', '.join(STAGED_COLUMNS)}) "
            f"select {', '.join(f'cast({c} as {_staged_type(c)})' for c in STAGED_COLUMNS)} from staged_frame"
        )
    finally:
        conn.unregister("staged_frame")
    return len(frame), unknown


def _staged_type(column: str) -> str:
    return {"snapshot_date_of_file": "date", "source_row": "bigint"}.get(column, "varchar")


def _check_snapshot_date_column(staged: pd.DataFrame, source: SnapshotSource) -> None:
    in_file = staged["snapshot_date"]
    values = {str(v).strip()[:10] for v in in_file if v is not None and str(v).strip()}
    wrong = sorted(v for v in values if v != source.snapshot_date.isoformat())
    if wrong:
        row = int(
            staged.loc[in_file.astype("str").str.strip().str[:10] == wrong[0], "source_row"].iloc[0]
        )
        raise SnapshotFileError(
            f"{source.label}: row {row} has snapshot_date {wrong[0]} but the file name says "
            f"{source.snapshot_date.isoformat()}; a file must hold exactly the day it is named for"
        )


def _sniff_delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = handle.readline()
    except UnicodeDecodeError as error:
        raise SnapshotFileError(_encoding_message(path, error)) from None
    if not header.strip():
        raise SnapshotFileError(
            f"{path}: the file is empty (expected a header row with {', '.join(REQUIRED_COLUMNS)})"
        )
    try:
        frame = pd.read_csv(
            path,
            sep=_sniff_delimiter(header),
            dtype="str",
            keep_default_na=False,
            na_filter=False,
            encoding="utf-8-sig",
            quoting=csv.QUOTE_MINIMAL,
            skip_blank_lines=True,
        )
    except UnicodeDecodeError as error:
        raise SnapshotFileError(_encoding_message(path, error)) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:
        raise SnapshotFileError(f"{path}: not a readable CSV file ({_first_line(error)})") from None
    frame.columns = [str(c) for c in frame.columns]
    frame["__source_file"] = str(path)
    frame["__source_row"] = range(1, len(frame) + 1)
    return frame


def _encoding_message(path: Path, error: UnicodeDecodeError) -> str:
    return (
        f"{path}: not UTF-8 text (byte 0x{error.object[error.start]:02x} at offset {error.start}); "
        "export as UTF-8 (with or without BOM). A Latin-1/Windows-1252 export must be converted, "
        "for example with: iconv -f latin1 -t utf-8"
    )


def _read_parquet(conn: duckdb.DuckDBPyConnection, paths: Sequence[Path]) -> pd.DataFrame:
    files = [str(p) for p in paths]
    try:
        described = conn.execute(
            "select column_name from (describe select * from read_parquet($files, union_by_name = true))",
            {"files": files},
        ).fetchall()
        names = [row[0] for row in described]
        wanted = [n for n in names if n.strip().lower() in KNOWN_COLUMNS]
        casts = ", ".join(
            f'cast("{n.replace(chr(34), chr(34) * 2)}" as varchar) as "{n.replace(chr(34), chr(34) * 2)}"'
            for n in wanted
        )
        select_list = f"{casts}, " if casts else ""
        frame = conn.execute(
            f"select {select_list}filename as __source_file, file_row_number + 1 as __source_row "
            "from read_parquet($files, union_by_name = true, filename = true, file_row_number = true) "
            "order by filename, file_row_number",
            {"files": files},
        ).df()
    except duckdb.Error as error:
        raise SnapshotFileError(
            f"{', '.join(files)}: not a readable Parquet file ({_first_line(error)})"
        ) from None
    for name in names:
        if name not in frame.columns:
            frame[name] = None  # unknown columns: only their names are reported
    return frame


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
