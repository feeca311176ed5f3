"""Bad input never crashes the pipeline or loses a row.

`tests/bad_inputs/` holds one broken (or awkward) snapshot per case, named for the case:
a file is landed as `2025-01-01.<its extension>`; a folder is copied into the landing
folder as it is (cases about file names, or about more than one file). Each case runs the
real pipeline through Dagster and pins its exact outcome: the run fails with our own
one-line message naming the file (and row and line where there is one), or the file
loads and exactly the listed rows go to `raw.rejected_rows`, with
`rows_read = rows_loaded + rows_rejected` in `raw.snapshot_deliveries`. A property-based
test then corrupts a valid CSV at random and checks the same promise on `ingest_window`.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import tempfile
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from churn_pipeline.ingestion import ingest_window
from churn_pipeline.landing import LandingError
from churn_pipeline.runs import RunFailedError
from churn_pipeline.settings import Settings
from churn_pipeline.snapshot_files import SnapshotFileError
from churn_pipeline.warehouse import open_warehouse
from tests.conftest import Project, sub

CORPUS = Path(__file__).parent / "bad_inputs"
DAY = "2025-01-01"
STEP_FAILED = "step raw__subscription_snapshots failed: "
REFUSED_AS_EMPTY = "an empty snapshot would count every customer as churned, so it is refused"
ROW_COUNT_HINT = "a value holding the delimiter must be quoted, and a cut-short file is refused"


def land(project: Project, case: str) -> None:
    source = CORPUS / case
    if source.is_dir():
        shutil.copytree(source, project.landing, dirs_exist_ok=True)
    else:
        shutil.copyfile(source, project.landing / f"{DAY}{source.suffix}")


# case -> the message after "step raw__subscription_snapshots failed: "; {landing} is the
# landing folder. Each is the whole message, so no library text can hide in it.
FAILING_CASES: dict[str, str] = {
    "missing_required_column.csv": "{landing}/2025-01-01.csv: required column(s) mrr missing; "
    "found columns: subscription_id, customer_id, status, plan",
    "parquet_missing_required_column.parquet": "{landing}/2025-01-01.parquet: required "
    "column(s) status missing; found columns: subscription_id, customer_id, mrr",
    "duplicate_column_names.csv": "{landing}/2025-01-01.csv: column mrr appears twice (as 'mrr' "
    "and 'MRR'; names are case-insensitive); keep one",
    "empty_file.csv": "{landing}/2025-01-01.csv: the file is empty (expected a header row with "
    "subscription_id, customer_id, status, mrr)",
    "whitespace_only_file.csv": "{landing}/2025-01-01.csv: the file is empty (expected a header "
    "row with subscription_id, customer_id, status, mrr)",
    "header_only.csv": f"{{landing}}/2025-01-01.csv: the file has a header but no rows; {REFUSED_AS_EMPTY}",
    "parquet_without_rows.parquet": "{landing}/2025-01-01.parquet: the file has columns but no "
    f"rows; {REFUSED_AS_EMPTY}",
    "latin1_encoded.csv": "{landing}/2025-01-01.csv: not UTF-8 text (byte 0xe9 on line 3, offset "
    "103); export as UTF-8 (with or without BOM). A Latin-1/Windows-1252 export must be "
    "converted, for example with: iconv -f latin1 -t utf-8",
    "nul_bytes.csv": "{landing}/2025-01-01.csv: line 3 holds a NUL byte (binary data, not CSV "
    "text); the file is corrupt or was not fully written, export it again",
    "ragged_row_too_many_fields.csv": "{landing}/2025-01-01.csv: row 2 (line 3) has 6 fields where "
    f"the header has 5 (delimiter ','); {ROW_COUNT_HINT}",
    "ragged_row_too_few_fields.csv": "{landing}/2025-01-01.csv: row 2 (line 3) has 3 fields where "
    f"the header has 4 (delimiter ','); {ROW_COUNT_HINT}",
    "unclosed_quote.csv": "{landing}/2025-01-01.csv: row 2 (line 3) is not valid CSV: a quoted "
    "value is never closed (the file may be cut short)",
    "text_after_closing_quote.csv": "{landing}/2025-01-01.csv: row 2 (line 3) is not valid CSV: "
    'text follows the closing quote of a quoted value (a quote inside a quoted value must be doubled: "")',
    "snapshot_date_differs.csv": "{landing}/2025-01-01.csv: row 2 has snapshot_date 2024-12-31 but "
    "the file name says 2025-01-01; a file must hold exactly the day it is named for",
    # footer and row counts read, a data page does not decode, and DuckDB's error names no file
    "corrupt_data_page.parquet": "{landing}/2025-01-01.parquet: not a readable Parquet file (Out "
    "of buffer)",
    "truncated.parquet": "{landing}/2025-01-01.parquet: truncated Parquet file (it starts like "
    "Parquet but its footer is missing); the upload or export was cut short, send the file again",
    "not_parquet.parquet": "{landing}/2025-01-01.parquet: not a Parquet file (it does not start "
    "with the Parquet magic bytes PAR1); a file of another format (CSV?) named .parquet",
    "empty_file.parquet": "{landing}/2025-01-01.parquet: the file is empty (0 bytes), not a "
    "Parquet file",
    "two_files_same_date": "two different files for snapshot date 2025-01-01: "
    "{landing}/2025-01-01.csv; {landing}/2025-01-01.parquet. Keep one: a re-sent day must "
    "replace the older file, not sit beside it",
    "name_not_a_valid_date": "{landing}/2025-13-45.csv: the name does not hold a valid snapshot "
    "date (expected YYYY-MM-DD, got '2025-13-45')",
    "name_not_a_date": "{landing}/snapshot.csv: a csv file whose name is not a snapshot date "
    "(expected YYYY-MM-DD.csv or YYYY-MM-DD.parquet)",
    "hive_folder_without_parquet": "{landing}/snapshot_date=2025-01-01: the folder holds no "
    "*.parquet file",
}


@pytest.mark.parametrize("case", sorted(FAILING_CASES))
def test_a_broken_file_fails_the_run_with_our_message(project: Project, case: str) -> None:
    land(project, case)
    with pytest.raises(RunFailedError) as failure:
        project.run(DAY, DAY)
    expected = FAILING_CASES[case].format(landing=project.landing)
    assert str(failure.value) == STEP_FAILED + expected
    # nothing half-loaded: the run failed before the write transaction
    if project.settings.warehouse_path.exists():
        assert project.query(
            "select (select count(*) from raw.subscription_snapshots)"
            " + (select count(*) from raw.rejected_rows)"
            " + (select count(*) from raw.snapshot_deliveries)"
        ) == [(0,)]


# case -> (loaded subscription_ids, rejected (source_row, subscription_id, column, value, rule))
REJECTING_CASES: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {
    "unparseable_mrr.csv": (["ok"], [
        (2, "bad1", "mrr", "ten", "invalid_mrr"),
        (3, "bad2", "mrr", "12.34.56", "invalid_mrr"),
        (4, "bad3", "mrr", "$10.00", "invalid_mrr"),
        (5, "bad4", "mrr", "NaN", "invalid_mrr"),
    ]),
    "empty_mrr.csv": (["ok"], [
        (2, "bad1", "mrr", "", "missing_mrr"),
        (3, "bad2", "mrr", "   ", "missing_mrr"),
    ]),
    "negative_mrr.csv": (["ok", "zero"], [
        (2, "bad1", "mrr", "-1", "negative_mrr"),
        (3, "bad2", "mrr", "-0.01", "negative_mrr"),
    ]),
    "decimal_comma_mrr.csv": (["s2"], [(1, "s1", "mrr", "19,99", "invalid_mrr")]),
    "mrr_above_ceiling.csv": (["ok1", "ok2"], [
        (3, "bad1", "mrr", "1000000.01", "mrr_above_ceiling"),
        (4, "bad2", "mrr", "99999999999999999999999999.99", "mrr_above_ceiling"),
    ]),
    "unknown_status.csv": (["ok"], [
        (2, "bad1", "status", "alive", "unknown_status"),
        (3, "bad2", "status", "", "unknown_status"),
        (4, "bad3", "status", "non_renewing", "unknown_status"),
    ]),
    "empty_subscription_id.csv": (["ok"], [
        (2, None, "subscription_id", "", "missing_subscription_id"),
        (3, None, "subscription_id", "   ", "missing_subscription_id"),
    ]),
    "empty_customer_id.csv": (["ok"], [
        (2, "bad1", "customer_id", "", "missing_customer_id"),
        (3, "bad2", "customer_id", "  ", "missing_customer_id"),
    ]),
    "duplicate_subscription_id.csv": (["ok"], [
        (1, "dup", "subscription_id", "dup", "duplicate_subscription_id"),
        (3, "dup", "subscription_id", "dup", "duplicate_subscription_id"),
        (4, "dup", "subscription_id", " dup ", "duplicate_subscription_id"),
    ]),
    "foreign_currency.csv": (["ok1", "ok2", "ok3"], [
        (4, "bad1", "currency", "EUR", "foreign_currency"),
        (5, "bad2", "currency", "US$", "foreign_currency"),
    ]),
    "unparseable_dates.csv": (["ok"], [
        (2, "bad1", "started_at", "not a date", "invalid_started_at"),
        (3, "bad2", "canceled_at", "2025-02-30", "invalid_canceled_at"),
        (4, "bad3", "ended_at", "31/12/2024", "invalid_ended_at"),
        (5, "bad4", "started_at", "infinity", "invalid_started_at"),
    ]),
    "parquet_row_rules.parquet": (["ok"], [
        (2, "bad1", "customer_id", None, "missing_customer_id"),
        (3, "bad2", "mrr", "nan", "invalid_mrr"),
        (4, "bad3", "mrr", "-5.0", "negative_mrr"),
    ]),
}  # fmt: skip


def rejected_rows(project: Project) -> list[tuple[Any, ...]]:
    return project.query(
        "select source_row, subscription_id, column_name, value, rule from raw.rejected_rows "
        "order by snapshot_date, source_row"
    )


def deliveries(project: Project) -> list[tuple[Any, ...]]:
    return project.query(
        "select snapshot_date, status, rows_read, rows_loaded, rows_rejected "
        "from raw.snapshot_deliveries order by snapshot_date"
    )


def loaded_ids(project: Project) -> list[str]:
    return [
        r[0]
        for r in project.query("select subscription_id from raw.subscription_snapshots order by 1")
    ]


@pytest.mark.parametrize("case", sorted(REJECTING_CASES))
def test_rows_that_break_a_rule_are_quarantined_exactly(project: Project, case: str) -> None:
    project.settings = replace(project.settings, quarantine_threshold=1.0)
    land(project, case)
    project.run(DAY, DAY)
    loaded, rejected = REJECTING_CASES[case]
    assert loaded_ids(project) == loaded
    assert rejected_rows(project) == rejected
    read = len(loaded) + len(rejected)
    assert deliveries(project) == [(date(2025, 1, 1), "loaded", read, len(loaded), len(rejected))]
    landed = str(project.landing / f"{DAY}{Path(case).suffix}")
    assert project.query("select distinct source_file from raw.rejected_rows") == [(landed,)]


def test_rejected_rows_over_the_threshold_refuse_the_file(project: Project) -> None:
    land(project, "unparseable_mrr.csv")  # 4 of 5 rows rejected, default threshold 1%
    with pytest.raises(RunFailedError) as failure:
        project.run(DAY, DAY)
    assert str(failure.value) == (
        "check quarantine_within_threshold on raw/subscription_snapshots failed"
    )
    assert deliveries(project) == [(date(2025, 1, 1), "refused", 5, 1, 4)]


# files that load in full: case -> (subscription_id, mrr_cents, plan, cancel_reason) per row
LOADING_CASES: dict[str, list[tuple[Any, ...]]] = {
    "utf8_with_bom.csv": [("s1", 1000, None, None), ("s2", 0, None, "Zu teuer – Kündigung")],
    "semicolon_delimited.csv": [("s1", 1000, "pro", None), ("s2", 2550, "team; annual", None)],
    "tab_delimited.csv": [("s1", 1000, "pro, monthly", None), ("s2", 0, None, None)],
    "unknown_extra_columns.csv": [("s1", 1000, None, None), ("s2", 2000, None, None)],
    "reason_with_sql_quotes_and_newline.csv": [
        ("s1", 1000, None, None),
        ("s2", 0, None,
         "Robert'); DROP TABLE raw.subscription_snapshots;-- said \"no\"\nsecond line, 'quoted'"),
    ],
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(LOADING_CASES))
def test_an_awkward_but_valid_file_loads_every_row(project: Project, case: str) -> None:
    land(project, case)
    project.run(DAY, DAY)
    assert (
        project.query(
            "select subscription_id, mrr_cents, plan, cancel_reason "
            "from raw.subscription_snapshots order by subscription_id"
        )
        == LOADING_CASES[case]
    )
    assert rejected_rows(project) == []
    rows = len(LOADING_CASES[case])
    assert deliveries(project) == [(date(2025, 1, 1), "loaded", rows, rows, 0)]


def test_unknown_columns_are_ignored_and_reported(project: Project) -> None:
    land(project, "unknown_extra_columns.csv")
    project.run(DAY, DAY)
    assert project.query("select unknown_columns from raw.snapshot_deliveries") == [
        ("Notes, seats",)
    ]
    materialization = project.instance.get_latest_materialization_event(
        dg.AssetKey(["raw", "subscription_snapshots"])
    )
    assert materialization is not None and materialization.asset_materialization is not None
    reported = materialization.asset_materialization.metadata["unknown_columns_ignored"].value
    assert reported == {str(project.landing / "2025-01-01.csv"): ["Notes", "seats"]}


def test_a_subscription_that_changes_customer_is_quarantined(project: Project) -> None:
    project.settings = replace(project.settings, quarantine_threshold=1.0)
    land(project, "subscription_changed_customer")
    # an earlier date inside the same window
    project.run("2025-01-01", "2025-01-02")
    assert rejected_rows(project) == [
        (1, "s1", "customer_id", "c9", "subscription_changed_customer")
    ]
    assert project.query("select snapshot_date, rule from raw.rejected_rows") == [
        (date(2025, 1, 2), "subscription_changed_customer")
    ]
    assert deliveries(project) == [
        (date(2025, 1, 1), "loaded", 2, 2, 0),
        (date(2025, 1, 2), "loaded", 2, 1, 1),
    ]
    assert project.query(
        "select snapshot_date, subscription_id, customer_id from raw.subscription_snapshots order by all"
    ) == [
        (date(2025, 1, 1), "s1", "c1"),
        (date(2025, 1, 1), "s2", "c2"),
        (date(2025, 1, 2), "s2", "c2"),
    ]
    # s1 keeps its previous state with c1: nobody churns, c9 is not a new customer
    assert project.movements() == []
    # the earlier row from raw.subscription_snapshots, before the window: same outcome
    project.run("2025-01-02", "2025-01-02")
    assert project.query(
        "select snapshot_date, source_row, subscription_id, column_name, value, rule from raw.rejected_rows"
    ) == [(date(2025, 1, 2), 1, "s1", "customer_id", "c9", "subscription_changed_customer")]
    assert deliveries(project)[1] == (date(2025, 1, 2), "loaded", 2, 1, 1)
    assert project.movements() == []


def test_a_subscription_back_after_a_gap_keeps_its_customer(project: Project) -> None:
    """Nightly runs: s1 is missing on Jan 2, so on Jan 3 its customer of record is that of its
    change row ending the listing on Jan 2; s3 is brand new on Jan 3 and has none."""
    project.settings = replace(project.settings, quarantine_threshold=1.0)
    steady = sub("s2", "c2")
    project.write_csv("2025-01-01", [sub("s1", "c1"), steady])
    project.write_csv("2025-01-02", [steady])
    project.write_csv("2025-01-03", [sub("s1", "c9"), steady, sub("s3", "c3")])
    for day in ("2025-01-01", "2025-01-02", "2025-01-03"):
        project.run(day, day)
    assert project.query(
        "select snapshot_date, subscription_id, value, rule from raw.rejected_rows"
    ) == [(date(2025, 1, 3), "s1", "c9", "subscription_changed_customer")]
    assert project.query(
        "select changed_on, subscription_id, is_listed, customer_id from raw.subscription_changes "
        "order by all"
    ) == [
        (date(2025, 1, 1), "s1", True, "c1"),
        (date(2025, 1, 1), "s2", True, "c2"),
        (date(2025, 1, 2), "s1", False, "c1"),
        (date(2025, 1, 3), "s3", True, "c3"),
    ]
    project.run("2025-01-01", "2025-01-03")  # the same as one backfill
    assert project.query(
        "select snapshot_date, subscription_id, value, rule from raw.rejected_rows"
    ) == [(date(2025, 1, 3), "s1", "c9", "subscription_changed_customer")]


def test_every_corpus_entry_has_a_test() -> None:
    entries = {p.name for p in CORPUS.iterdir() if not p.name.startswith(".")}
    covered = {
        *FAILING_CASES,
        *REJECTING_CASES,
        *LOADING_CASES,
        "subscription_changed_customer",
    }
    assert entries == covered
    size = sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file())
    assert size < 200_000


# ---- property: random corruption of a valid CSV is refused with our message or fully counted

VALID_ROWS = [
    ["subscription_id", "customer_id", "status", "mrr", "currency", "plan", "started_at",
     "canceled_at", "ended_at", "cancel_reason"],
    ["s1", "c1", "active", "19.99", "USD", "pro", "2024-06-01", "", "", ""],
    ["s2", "c1", "past_due", "5", "", "addon, seats", "2024-07-15T10:00:00Z", "", "", ""],
    ["s3", "c2", "canceled", "0", "USD", "", "2024-01-01", "2024-12-20", "2024-12-31",
     'too "expensive"; switching'],
    ["s4", "c3", "trialing", "0.00", "usd", "team", "", "", "", ""],
    ["s5", "c4", "paused", "120.5", "USD", "pro", "2023-03-03", "", "", "pause\nsecond line"],
]  # fmt: skip

CELL_TEXT = st.one_of(
    st.sampled_from(
        ["", " ", "-1", "19,99", "1e400", "NaN", "infinity", "2025-02-30", "s1", "c9", "a;b",
         "x,y", '"', "\n", "\t", "EUR", "unpaid", "99999999999999999999999999.99"]
    ),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
)  # fmt: skip
BAD_BYTES = st.sampled_from([b"\xff", b"\xfe", b"\x80", b"\xc3", b"\xe9", b"\x00", b"\xef\xbb"])


@st.composite
def corrupted_csv(draw: st.DrawFn) -> bytes:
    rows = [list(r) for r in VALID_ROWS]
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    for _ in range(draw(st.integers(0, 3))):
        # the header gets about one change in twenty: most changes should hit data rows
        pick = draw(st.integers(0, 4 * (len(rows) - 1)))
        row = 0 if pick == 0 or len(rows) == 1 else 1 + (pick - 1) % (len(rows) - 1)
        col = draw(st.integers(0, len(rows[row]) - 1))
        action = draw(
            st.sampled_from(["mutate", "mutate", "drop", "duplicate", "drop_row", "copy_row"])
        )
        if action == "drop":
            del rows[row][col]
        elif action == "duplicate":
            rows[row].insert(col, rows[row][col])
        elif action == "mutate":
            rows[row][col] = draw(CELL_TEXT)
        elif action == "drop_row" and len(rows) > 1:
            del rows[row]
        elif action == "copy_row":
            rows.insert(row, list(rows[row]))
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
    data = buffer.getvalue().encode("utf-8")
    # every byte-level change but a cut at a line end breaks the file: fewer of them, so
    # that about half the examples load and exercise the row accounting
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        position = draw(st.integers(0, len(data)))
        action = draw(
            st.sampled_from(["add_delimiter", "remove_delimiter", "bytes", "cut", "cut_at_line"])
        )
        if action == "add_delimiter":
            data = data[:position] + delimiter.encode() + data[position:]
        elif action == "remove_delimiter" and delimiter.encode() in data:
            where = data.find(delimiter.encode(), position)
            where = where if where >= 0 else data.rfind(delimiter.encode())
            data = data[:where] + data[where + 1 :]
        elif action == "bytes":
            data = data[:position] + draw(BAD_BYTES) + data[position:]
        elif action == "cut":
            data = data[:position]
        elif action == "cut_at_line":
            data = data[: data.rfind(b"\n", 0, position) + 1]
    return data


def rows_a_csv_reader_sees(data: bytes) -> int:
    """Data rows of the file for the standard `csv` module, blank lines aside."""
    text = data.decode("utf-8-sig")
    first = next(line for line in text.splitlines() if line.strip())
    counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
    delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    records = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    non_blank = [r for r in records if r and not (len(r) == 1 and not r[0].strip())]
    return len(non_blank) - 1


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=corrupted_csv())
def test_a_corrupted_csv_is_refused_by_name_or_every_row_is_counted(
    tmp_path: Path, data: bytes
) -> None:
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    landing = root / "landing"
    landing.mkdir()
    snapshot = landing / f"{DAY}.csv"
    snapshot.write_bytes(data)
    settings = Settings.from_env(
        {
            "CHURN_LANDING_DIR": str(landing),
            "CHURN_WAREHOUSE": str(root / "warehouse.duckdb"),
            "DAGSTER_HOME": str(root / "dagster_home"),
            "CHURN_START_DATE": "2020-01-01",
        }
    )
    settings = replace(settings, quarantine_threshold=1.0)
    day = date.fromisoformat(DAY)
    with open_warehouse(settings) as conn:
        try:
            ingest_window(conn, settings, day, day)
        except (SnapshotFileError, LandingError) as error:
            assert re.match(re.escape(str(snapshot)) + ": ", str(error)), str(error)
            assert "\n" not in str(error)
            event(f"refused: {type(error).__name__}")
            return
        accounting = conn.execute(
            "select rows_read, rows_loaded, rows_rejected from raw.snapshot_deliveries"
        ).fetchall()
        stored = conn.execute(
            "select (select count(*) from raw.subscription_snapshots),"
            " (select count(*) from raw.rejected_rows)"
        ).fetchone()
    [(rows_read, rows_loaded, rows_rejected)] = accounting
    event("loaded, with rejected rows" if rows_rejected else "loaded, every row clean")
    assert rows_read == rows_a_csv_reader_sees(data) == rows_loaded + rows_rejected
    assert stored == (rows_loaded, rows_rejected)
