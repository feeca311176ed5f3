"""Reading snapshot sources (CSV or Parquet) into the text-only staging relation `staged_rows`.

Everything is staged as text with its 1-based data row number, so that validation in SQL
can name the file, the row, the column and the value of every rejected cell. CSV rows are
copied into the temp table `staged_text_rows`; Parquet files are not copied at all:
`staged_rows` is a temp view reading them where the statements that validate them need
their texts (validating straight from the files took 1.4 s per million rows where copying
their texts first and validating the copy took 2.4 s). File-level
problems (unreadable, not UTF-8, empty, a row with the wrong number of fields, broken
quoting, missing or repeated required columns, a snapshot_date column that disagrees with
the file name) raise `SnapshotFileError` whose message names the file, and the row and line
where there is one; no parser's own error text is the whole message.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from churn_pipeline.landing import DATED_FILE, SnapshotSource

if TYPE_CHECKING:
    import pandas as pd

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
INTERNAL_COLUMNS = ("__source_file", "__source_row")  # added by the readers, never reported
PARQUET_MAGIC = b"PAR1"
# `file_number` identifies a row's file within the staged sources (`staged_files` names it):
# the statements that key rows by file compare a small integer, not a ~60-character path
STAGED_COLUMNS = (
    "snapshot_date_of_file",
    "source_file",
    "file_number",
    "source_row",
    *KNOWN_COLUMNS,
)


class SnapshotFileError(ValueError):
    """A snapshot file cannot be loaded at all; the message names the file."""


STAGED_TEXT_TABLE = "staged_text_rows"
STAGED_VIEW = "staged_rows"
STAGED_FILES_TABLE = "staged_files"
# `staged_rows_of_keys`: the staged rows whose (snapshot_date_of_file, file_number, source_row)
# is in the temp table `staged_keys` (which the caller fills), their texts cast after the join
STAGED_KEYED_VIEW = "staged_rows_of_keys"
STAGED_KEYS_TABLE = "staged_keys"
PARQUET_BATCH_VARIABLES = (
    "staged_parquet_files_{index}",
    "staged_parquet_days_{index}",
    "staged_parquet_numbers_{index}",
)


def create_staging_table(conn: duckdb.DuckDBPyConnection) -> None:
    """An empty table for the CSV rows; `stage_sources` defines the `staged_rows` view over it."""
    columns = ", ".join(f"{name} varchar" for name in KNOWN_COLUMNS)
    conn.execute(
        f"create or replace temp table {STAGED_TEXT_TABLE} ("
        f"snapshot_date_of_file date, source_file varchar, file_number integer, source_row bigint, "
        f"{columns})"
    )


def drop_staging(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(f"drop view if exists {STAGED_KEYED_VIEW}")
    conn.execute(f"drop view if exists {STAGED_VIEW}")
    conn.execute(f"drop table if exists {STAGED_KEYS_TABLE}")
    conn.execute(f"drop table if exists {STAGED_TEXT_TABLE}")
    conn.execute(f"drop table if exists {STAGED_FILES_TABLE}")
    variables = conn.execute(
        "select name from duckdb_variables() where name like 'staged_parquet_%'"
    ).fetchall()
    for (name,) in variables:
        conn.execute(f"reset variable {name}")


def _stage_csv(
    conn: duckdb.DuckDBPyConnection, source: SnapshotSource, file_number: int
) -> list[str]:
    """Append a CSV source's rows to `staged_text_rows`; returns its unknown column names."""
    import pandas as pd  # the CSV path only: a nightly Parquet run never imports pandas

    frame = _read_csv(source.paths[0])
    file_columns = [str(c) for c in frame.columns if c not in INTERNAL_COLUMNS]
    present = _known_columns(source, file_columns)
    if frame.empty:
        raise _no_rows(source)
    unknown = _unknown_columns(file_columns)
    staged = pd.DataFrame(
        {
            "snapshot_date_of_file": pd.Series([source.snapshot_date] * len(frame), dtype="object"),
            "source_file": frame["__source_file"].astype("str"),
            "file_number": pd.Series([file_number] * len(frame), dtype="int64"),
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
            f"insert into {STAGED_TEXT_TABLE} ({', '.join(STAGED_COLUMNS)}) "
            f"select {', '.join(f'cast({c} as {_staged_type(c)})' for c in STAGED_COLUMNS)} from staged_frame"
        )
    finally:
        conn.unregister("staged_frame")
    return unknown


def _known_columns(source: SnapshotSource, file_columns: list[str]) -> dict[str, str]:
    """Known column (lower case) -> its name in the file; refuses repeated or missing ones."""
    present: dict[str, str] = {}
    for column in file_columns:
        key = column.strip().lower()
        if key in KNOWN_COLUMNS and key in present:
            raise SnapshotFileError(
                f"{source.label}: column {key} appears twice (as {present[key]!r} and "
                f"{column!r}; names are case-insensitive); keep one"
            )
        present.setdefault(key, column)
    missing = [c for c in REQUIRED_COLUMNS if c not in present]
    if missing:
        raise SnapshotFileError(
            f"{source.label}: required column(s) {', '.join(missing)} missing; found columns: "
            f"{', '.join(file_columns) or '(none)'}"
        )
    return present


def _unknown_columns(file_columns: list[str]) -> list[str]:
    return sorted(c for c in file_columns if c.strip().lower() not in KNOWN_COLUMNS)


def _no_rows(source: SnapshotSource) -> SnapshotFileError:
    return SnapshotFileError(
        f"{source.label}: the file has {'a header' if source.format == 'csv' else 'columns'} "
        "but no rows; an empty snapshot would "
        "count every customer as churned, so it is refused"
    )


def _staged_type(column: str) -> str:
    types = {"snapshot_date_of_file": "date", "file_number": "integer", "source_row": "bigint"}
    return types.get(column, "varchar")


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


def _is_blank(record: list[str]) -> bool:
    """An empty or whitespace-only line, skipped like a blank line."""
    return not record or (len(record) == 1 and not record[0].strip())


def _read_csv(path: Path) -> pd.DataFrame:
    """The whole file as text columns, with strict quoting and one field per header column.

    Read with the standard `csv` module (not a fast parser that pads short rows or skips
    what it cannot split) so that every problem can be reported with its row and line.
    """
    import pandas as pd

    text = _decode_utf8(path)
    empty = SnapshotFileError(
        f"{path}: the file is empty (expected a header row with {', '.join(REQUIRED_COLUMNS)})"
    )
    if not text.strip():
        raise empty
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise SnapshotFileError(
            f"{path}: line {line} holds a NUL byte (binary data, not CSV text); the file is "
            "corrupt or was not fully written, export it again"
        )
    first_line = next(line for line in text.splitlines() if line.strip())
    delimiter = _sniff_delimiter(first_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    records: list[list[str]] = []
    line = 1  # first line of the record being read
    try:
        for record in reader:
            if not _is_blank(record):
                if header is None:
                    header = record
                elif len(record) != len(header):
                    raise SnapshotFileError(
                        f"{path}: row {len(records) + 1} (line {line}) has {len(record)} fields "
                        f"where the header has {len(header)} (delimiter {delimiter!r}); a value "
                        "holding the delimiter must be quoted, and a cut-short file is refused"
                    )
                else:
                    records.append(record)
            line = reader.line_num + 1
    except csv.Error as error:
        raise SnapshotFileError(
            f"{path}: row {len(records) + 1} (line {line}) is not valid CSV: {_csv_problem(error)}"
        ) from None
    if header is None:  # only blank values, such as a line holding ""
        raise empty
    columns = [
        name if name.strip() else f"(unnamed column {i})" for i, name in enumerate(header, 1)
    ]
    frame = pd.DataFrame(records, columns=columns, dtype="object")
    frame["__source_file"] = str(path)
    frame["__source_row"] = range(1, len(frame) + 1)
    return frame


def _csv_problem(error: csv.Error) -> str:
    reason = str(error)
    if "unexpected end of data" in reason:
        return "a quoted value is never closed (the file may be cut short)"
    if "expected after" in reason:
        return (
            "text follows the closing quote of a quoted value (a quote inside a quoted value "
            'must be doubled: "")'
        )
    return reason


def _decode_utf8(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SnapshotFileError(f"{path}: cannot be read ({error.strerror or error})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        offset = error.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        line = data.count(b"\n", 0, offset) + 1
        raise SnapshotFileError(
            f"{path}: not UTF-8 text (byte 0x{data[offset]:02x} on line {line}, offset {offset}); "
            "export as UTF-8 (with or without BOM). A Latin-1/Windows-1252 export must be "
            "converted, for example with: iconv -f latin1 -t utf-8"
        ) from None


def _check_parquet_magic(path: Path) -> None:
    """Clear messages for the usual broken uploads, before DuckDB reads the footer."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(4)
            handle.seek(max(size - 4, 0))
            tail = handle.read(4)
    except OSError as error:
        raise SnapshotFileError(f"{path}: cannot be read ({error.strerror or error})") from None
    if size == 0:
        raise SnapshotFileError(f"{path}: the file is empty (0 bytes), not a Parquet file")
    if head != PARQUET_MAGIC:
        raise SnapshotFileError(
            f"{path}: not a Parquet file (it does not start with the Parquet magic bytes PAR1); "
            "a file of another format (CSV?) named .parquet"
        )
    if size < 12 or tail != PARQUET_MAGIC:
        raise SnapshotFileError(
            f"{path}: truncated Parquet file (it starts like Parquet but its footer is missing); "
            "the upload or export was cut short, send the file again"
        )


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# what tells a file rewritten since it was first read: its size, modification time or
# status-change time (which a rename over it, a rewrite or `touch`/`cp -p` of a replacement
# all move). Not the inode: some network and object-store mounts do not keep it stable.
# None: the file could not be read (staging then refuses it by name).
FileIdentity = tuple[int, int, int] | None


@dataclass(frozen=True)
class StagedSources:
    """What `stage_sources` staged: each source's unknown columns, and the Parquet sources read
    through the `staged_rows` view with the identity of their files when first read."""

    unknown_columns: list[list[str]]
    parquet_sources: list[SnapshotSource]
    parquet_files: dict[Path, FileIdentity]

    def ensure_unchanged(self) -> None:
        """The view reads the Parquet files in each statement that uses it: a file rewritten
        in the meantime would have been validated from one version and quoted from another."""
        for path, seen in self.parquet_files.items():
            if _identity(path) != seen:
                raise SnapshotFileError(
                    f"{path}: the file changed while it was being loaded (it was replaced, "
                    "rewritten or removed); nothing was loaded from this run's window. Write "
                    "landing files under a temporary name and rename them when complete, then "
                    "run again"
                )

    @contextmanager
    def read_errors_named(self) -> Iterator[None]:
        """A statement reading `staged_rows` fails when a Parquet file cannot be decoded (only
        validation reads the values) or changed since it was staged: the error then names the
        file, like any unreadable file. DuckDB's message does not always name it, so each
        Parquet source is read again on a connection of its own (the window's transaction is
        aborted) to find the one that fails; when none does, the error is not the files'."""
        try:
            yield
        except duckdb.OutOfMemoryException:
            raise
        except duckdb.Error:
            self.ensure_unchanged()
            undecodable = _first_undecodable(self.parquet_sources)
            if undecodable is None:
                raise
            source, error = undecodable
            raise _unreadable([str(path) for path in source.paths], error) from None


def _identity(path: Path) -> FileIdentity:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


def _first_undecodable(
    sources: list[SnapshotSource],
) -> tuple[SnapshotSource, duckdb.Error] | None:
    probe = duckdb.connect()
    try:
        for source in sources:
            try:
                # hashing every column decodes every value, as the view's text casts do
                probe.execute(
                    "select sum(hash(columns(*))) from read_parquet($files, union_by_name = true)",
                    {"files": [str(path) for path in source.paths]},
                ).fetchall()
            except duckdb.Error as error:
                return source, error
    finally:
        probe.close()
    return None


def stage_sources(conn: duckdb.DuckDBPyConnection, sources: list[SnapshotSource]) -> StagedSources:
    """Stage several sources (one snapshot date each) as `staged_rows`; returns each
    source's unknown column names, in the order of `sources`, and what the view reads.

    Single-file Parquet sources (`YYYY-MM-DD.parquet`) whose columns have the same names and
    types are read by one `read_parquet` over all their files: one statement per file cost
    ~40 ms each, most of the staging time of a backfill. Hive folders are read one by one, as
    DuckDB adds their `snapshot_date=` path column only when every path of a read is a hive
    path; so is a file holding a column that `read_parquet`'s own `filename` or
    `file_row_number` would clash with. Every error is the one that source raises when read
    alone; when several sources are bad, the one named may not be the earliest date (the
    file-level checks of every Parquet source come first, and a Parquet value that cannot be
    decoded is found by validation, after the checks of every file of the chunk). No
    statement may fail on purpose: a failed statement aborts the window's transaction.
    """
    parquet_sources = [source for source in sources if source.format != "csv"]
    parquet_files = {path: _identity(path) for source in parquet_sources for path in source.paths}
    file_numbers = _number_files(conn, sources)
    layouts = _parquet_layouts(conn, parquet_sources)
    batches: dict[tuple[tuple[str, str], ...], list[SnapshotSource]] = {}
    parquet_reads: list[tuple[str, str]] = []  # (every row, the rows of `staged_keys`)
    for source, (_, columns, _) in layouts.items():
        if _may_share_a_read(source, columns):
            batches.setdefault(columns, []).append(source)
        else:
            parquet_reads.append(
                _stage_parquet_batch(
                    conn, [source], layouts[source][0], len(parquet_reads), file_numbers
                )
            )
    for batch in batches.values():
        parquet_reads.append(
            _stage_parquet_batch(
                conn, batch, layouts[batch[0]][0], len(parquet_reads), file_numbers
            )
        )
    unknown = {source: layout[2] for source, layout in layouts.items()}
    for source in sources:
        if source.format == "csv":
            unknown[source] = _stage_csv(conn, source, file_numbers[str(source.paths[0])])
    conn.execute(
        f"create or replace temp view {STAGED_VIEW} as "
        + " union all ".join([f"select * from {STAGED_TEXT_TABLE}", *(r for r, _ in parquet_reads)])
    )
    conn.execute(
        f"create temp table if not exists {STAGED_KEYS_TABLE} "
        "(snapshot_date_of_file date, file_number integer, source_row bigint)"
    )
    csv_rows_of_keys = (
        f"select * from {STAGED_TEXT_TABLE} semi join {STAGED_KEYS_TABLE} "
        "using (snapshot_date_of_file, file_number, source_row)"
    )
    conn.execute(
        f"create or replace temp view {STAGED_KEYED_VIEW} as "
        + " union all ".join([csv_rows_of_keys, *(r for _, r in parquet_reads)])
    )
    return StagedSources([unknown[source] for source in sources], parquet_sources, parquet_files)


def _number_files(conn: duckdb.DuckDBPyConnection, sources: list[SnapshotSource]) -> dict[str, int]:
    """Each staged file's number, from 1 in the order of `sources`, also kept in the temp
    table `staged_files` (file_number, source_file) for the statements that name the file."""
    numbers = {
        str(path): number
        for number, path in enumerate((p for s in sources for p in s.paths), start=1)
    }
    conn.execute(
        f"create or replace temp table {STAGED_FILES_TABLE} "
        "(file_number integer primary key, source_file varchar not null)"
    )
    if numbers:
        conn.execute(
            f"insert into {STAGED_FILES_TABLE} select unnest($numbers), unnest($files)",
            {"numbers": list(numbers.values()), "files": list(numbers)},
        )
    return numbers


def _may_share_a_read(source: SnapshotSource, columns: tuple[tuple[str, str], ...]) -> bool:
    if len(source.paths) != 1 or not DATED_FILE.match(source.paths[0].name):
        return False
    return not {name.lower() for name, _ in columns} & {"filename", "file_row_number"}


ParquetLayout = tuple[dict[str, str], tuple[tuple[str, str], ...], list[str]]


def _parquet_layouts(
    conn: duckdb.DuckDBPyConnection, sources: list[SnapshotSource]
) -> dict[SnapshotSource, ParquetLayout]:
    """`_parquet_layout` of each source. Single files whose Parquet schemas are the same (the
    usual case: one export a day) are described once: a `describe` per file cost ~0.6 ms, 0.4 s
    of a two-year backfill, where reading every file's schema at once takes 7 ms a chunk."""
    schemas = _parquet_schemas(conn, [s for s in sources if len(s.paths) == 1])
    described: dict[str, ParquetLayout] = {}
    layouts: dict[SnapshotSource, ParquetLayout] = {}
    for source in sources:
        schema = schemas.get(source.paths[0]) if len(source.paths) == 1 else None
        if schema is None or schema not in described:
            layouts[source] = _parquet_layout(conn, source)
            if schema is not None:
                described[schema] = layouts[source]
            continue
        _, columns, unknown = described[schema]
        # the known columns again: an error must name this source
        layouts[source] = (_known_columns(source, [name for name, _ in columns]), columns, unknown)
    return layouts


def _parquet_schemas(
    conn: duckdb.DuckDBPyConnection, sources: list[SnapshotSource]
) -> dict[Path, str]:
    """Each file's Parquet schema as one text (every column's name, types, repetition and
    children, in order); empty when there are fewer than two files or one cannot be read (each
    is then described alone, which names the bad file)."""
    if len(sources) < 2:
        return {}
    files = {str(source.paths[0]): source.paths[0] for source in sources}
    for path in files.values():
        _check_parquet_magic(path)
    try:
        rows = conn.execute(
            "select file_name, cast(list((name, type, duckdb_type, logical_type, converted_type, "
            "repetition_type, num_children, scale, precision) order by column_id) as varchar) "
            "from parquet_schema($files) group by file_name",
            {"files": list(files)},
        ).fetchall()
    except duckdb.Error:
        return {}
    return {files[name]: schema for name, schema in rows if name in files}


def _parquet_layout(conn: duckdb.DuckDBPyConnection, source: SnapshotSource) -> ParquetLayout:
    """The source's known columns (-> their names in the file), every column with its type,
    and the unknown column names; refuses unreadable files and missing or repeated columns."""
    for path in source.paths:
        _check_parquet_magic(path)
    files = [str(p) for p in source.paths]
    try:
        described = conn.execute(
            "select column_name, column_type "
            "from (describe select * from read_parquet($files, union_by_name = true))",
            {"files": files},
        ).fetchall()
    except duckdb.Error as error:
        raise _unreadable(files, error) from None
    columns = tuple((str(name), str(column_type)) for name, column_type in described)
    file_columns = [name for name, _ in columns]
    return _known_columns(source, file_columns), columns, _unknown_columns(file_columns)


def _files_named_by(error: duckdb.Error, batch: list[SnapshotSource]) -> list[str]:
    """The files of the source whose path DuckDB's message names, else every file read."""
    for source in batch:
        if any(str(path) in str(error) for path in source.paths):
            return [str(path) for path in source.paths]
    return [str(path) for source in batch for path in source.paths]


def _unreadable(files: list[str], error: duckdb.Error) -> SnapshotFileError:
    return SnapshotFileError(
        f"{', '.join(files)}: not a readable Parquet file ({_first_line(error)})"
    )


def _stage_parquet_batch(
    conn: duckdb.DuckDBPyConnection,
    batch: list[SnapshotSource],
    present: dict[str, str],
    index: int,
    file_numbers: dict[str, int],
) -> tuple[str, str]:
    """The SELECT reading Parquet sources of the same columns as staged text, after each
    source's row checks, and the SELECT reading only their rows of `staged_keys`. The file
    list is bound as a session variable, not spelled in the SQL."""
    files = [str(path) for source in batch for path in source.paths]
    days = [source.snapshot_date for source in batch for _ in source.paths]
    files_variable, days_variable, numbers_variable = (
        name.format(index=index) for name in PARQUET_BATCH_VARIABLES
    )
    conn.execute(f"set variable {files_variable} = $files", {"files": files})
    conn.execute(f"set variable {days_variable} = $days", {"days": days})
    conn.execute(
        f"set variable {numbers_variable} = $numbers",
        {"numbers": [file_numbers[file] for file in files]},
    )
    parquet_read = (
        "select batch_files.day as snapshot_date_of_file, parquet_rows.filename as source_file, "
        "batch_files.file_number, parquet_rows.file_row_number + 1 as source_row, "
        f"{_text_columns(present, 'parquet_rows.')} "
        f"from read_parquet(getvariable('{files_variable}'), union_by_name = true, "
        "filename = true, file_row_number = true) as parquet_rows "
        # a join, not days[file_index + 1]: keeping the files' order cost more than the read
        f"left join (select unnest(getvariable('{files_variable}')) as source_file, "
        f"unnest(getvariable('{days_variable}')) as day, "
        f"cast(unnest(getvariable('{numbers_variable}')) as integer) as file_number) as batch_files "
        "on parquet_rows.filename = batch_files.source_file"
    )
    # Joined on the reader's own file index and row number, and cast after the join: a
    # validation reads ~60,000 of a 112-day chunk's 2.8M rows, and casting every row's texts
    # first (as through `staged_rows`) cost 0.14 s a chunk against 0.12 s.
    keyed_read = (
        "select keys.snapshot_date_of_file, parquet_rows.filename as source_file, "
        "keys.file_number, keys.source_row, "
        f"{_text_columns(present, 'parquet_rows.')} "
        f"from read_parquet(getvariable('{files_variable}'), union_by_name = true, "
        "filename = true, file_row_number = true) as parquet_rows "
        "inner join (select staged_keys.snapshot_date_of_file, staged_keys.file_number, "
        "staged_keys.source_row, batch_files.file_index "
        f"from {STAGED_KEYS_TABLE} as staged_keys "
        f"inner join (select cast(unnest(getvariable('{numbers_variable}')) as integer) as file_number, "
        f"cast(generate_subscripts(getvariable('{numbers_variable}'), 1) - 1 as ubigint) as file_index) "
        "as batch_files using (file_number)) as keys "
        "on parquet_rows.file_index = keys.file_index "
        "and parquet_rows.file_row_number = keys.source_row - 1"
    )
    rows_per_file = _fetch_from_batch(
        conn,
        "select source_file, snapshot_date_of_file, count(*), max(source_row) "
        f"from ({parquet_read}) group by all",
        batch,
    )
    day_of_file = dict(zip(files, days, strict=True))
    for file, day, rows, last_row in rows_per_file:
        # read_parquet expands * ? [ ] in a path: another file read in place of a landing
        # file, or one file read twice (its row numbers then repeat)
        if file not in day_of_file or day_of_file[file] != day or rows != last_row:
            raise SnapshotFileError(
                f"{file}: read in place of, or as well as, another landing file, because a path "
                f"among {', '.join(files)} holds one of * ? [ ] (a pattern to DuckDB); rename it"
            )
    rows_per_day: Counter[date] = Counter()
    for _, day, rows, _ in rows_per_file:
        rows_per_day[day] += rows
    dates_in_files = (
        _fetch_from_batch(
            conn,
            "select distinct snapshot_date_of_file, snapshot_date "
            f"from ({parquet_read}) where snapshot_date is not null",
            batch,
        )
        if "snapshot_date" in present
        else []
    )
    disagreeing = {
        day
        for day, value in dates_in_files
        if str(value).strip() and str(value).strip()[:10] != day.isoformat()
    }
    for source in batch:
        if not rows_per_day[source.snapshot_date]:
            raise _no_rows(source)
        if source.snapshot_date in disagreeing:
            _check_staged_snapshot_dates(conn, source, parquet_read)  # raises, naming the row
    return parquet_read, keyed_read


def _fetch_from_batch(
    conn: duckdb.DuckDBPyConnection, query: str, batch: list[SnapshotSource]
) -> list[tuple[Any, ...]]:
    try:
        return conn.execute(query).fetchall()
    except duckdb.Error as error:
        raise _unreadable(_files_named_by(error, batch), error) from None


def _text_columns(present: dict[str, str], prefix: str = "") -> str:
    """Every known column cast to text, as the CSV path stages it (NULL when absent)."""
    return ", ".join(
        f"cast({prefix + _quoted(present[name]) if name in present else 'null'} as varchar) as {name}"
        for name in KNOWN_COLUMNS
    )


def _check_staged_snapshot_dates(
    conn: duckdb.DuckDBPyConnection, source: SnapshotSource, parquet_read: str
) -> None:
    """The rule of `_check_snapshot_date_column`, on the distinct values the source staged."""
    day = {"day": source.snapshot_date}
    distinct = conn.execute(
        f"select distinct snapshot_date from ({parquet_read}) "
        "where snapshot_date_of_file = $day and snapshot_date is not null",
        day,
    ).fetchall()
    values = {str(v).strip()[:10] for (v,) in distinct if str(v).strip()}
    if all(v == source.snapshot_date.isoformat() for v in values):
        return
    rows = conn.execute(
        f"select source_row, snapshot_date from ({parquet_read}) "
        "where snapshot_date_of_file = $day and snapshot_date is not null "
        "order by source_file, source_row",
        day,
    ).fetchall()
    import pandas as pd

    staged = pd.DataFrame(rows, columns=["source_row", "snapshot_date"], dtype="object")
    _check_snapshot_date_column(staged, source)


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


CSV_SAMPLE_BYTES = 64 * 1024


def estimated_rows(
    conn: duckdb.DuckDBPyConnection, sources: list[SnapshotSource]
) -> dict[date, int]:
    """About how many rows each source holds, to size the chunks a window is loaded in.

    Parquet: the row counts of the files' footers (one read of every footer: 0.09 s for 724
    files). CSV: the file's size over the bytes per line of its first 64 KiB. A file that
    cannot be read counts 0 here; staging it reports what is wrong with it. Call it outside a
    transaction: DuckDB aborts a transaction in which a statement failed.
    """
    rows: dict[date, int] = {}
    parquet_paths = [str(p) for s in sources if s.format == "parquet" for p in s.paths]
    footer_rows = _parquet_footer_rows(conn, parquet_paths)
    for source in sources:
        if source.format == "parquet":
            rows[source.snapshot_date] = sum(footer_rows.get(str(p), 0) for p in source.paths)
        else:
            rows[source.snapshot_date] = sum(_csv_rows_estimate(p) for p in source.paths)
    return rows


def _parquet_footer_rows(conn: duckdb.DuckDBPyConnection, paths: list[str]) -> dict[str, int]:
    if not paths:
        return {}
    query = "select file_name, num_rows from parquet_file_metadata($files)"
    try:
        return {str(name): int(n) for name, n in conn.execute(query, {"files": paths}).fetchall()}
    except duckdb.Error:  # one unreadable file fails the whole read: count them one by one
        counted: dict[str, int] = {}
        for path in paths:
            try:
                found = conn.execute(query, {"files": [path]}).fetchall()
            except duckdb.Error:
                continue
            counted.update({str(name): int(n) for name, n in found})
        return counted


def _csv_rows_estimate(path: Path) -> int:
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            sample = handle.read(CSV_SAMPLE_BYTES)
    except OSError:
        return 0
    lines = sample.count(b"\n")
    if size <= len(sample):  # the whole file: its lines but the header
        return max(lines + (not sample.endswith(b"\n")) - 1, 0)
    return round(size * lines / len(sample))
