"""Snapshot files into raw.subscription_snapshots: formats, money, statuses, gaps, idempotence."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churn_pipeline.landing import discover
from churn_pipeline.runs import RunFailedError
from churn_pipeline.snapshot_files import (
    SnapshotFileError,
    create_staging_table,
    drop_staging,
    stage_sources,
)
from tests.conftest import Project, days, sub
from tests.reference.histories import random_history


def loaded(project: Project, columns: str = "subscription_id, status, mrr_cents") -> list[tuple]:
    return project.query(
        f"select {columns} from raw.subscription_snapshots order by snapshot_date, subscription_id"
    )


@pytest.mark.parametrize(
    ("text", "cents"),
    [("19.99", 1999), ("33.335", 3334), ("0.005", 1), ("0.004", 0), ("1.005", 101), ("100", 10000),
     (" 7.5 ", 750), ("1e2", 10000), ("0.1", 10), ("123456.78", 12345678)],
)  # fmt: skip
def test_money_becomes_exact_minor_units(project: Project, text: str, cents: int) -> None:
    project.write_csv("2025-01-01", [sub("s1", "c1", "active", text)])
    project.run("2025-01-01", "2025-01-01")
    assert loaded(project, "mrr_cents") == [(cents,)]


def test_zero_decimal_and_three_decimal_currencies(project: Project) -> None:
    project.settings = replace(project.settings, currency="JPY")
    project.write_csv("2025-01-01", [sub("s1", "c1", "active", "1500", currency="JPY")])
    project.run("2025-01-01", "2025-01-01")
    assert loaded(project, "mrr_cents, currency") == [(1500, "JPY")]


def test_parquet_floats_round_from_their_shortest_decimal(project: Project) -> None:
    table = pa.table({
        "subscription_id": ["a", "b", "c"], "customer_id": ["c1", "c2", "c3"],
        "status": ["active", "active", "active"], "mrr": [1.005, 19.99, 0.1 + 0.2],
        "started_at": pa.array([date(2024, 5, 1), None, None], type=pa.date32()),
    })  # fmt: skip
    pq.write_table(table, project.landing / "2025-01-01.parquet")
    project.run("2025-01-01", "2025-01-01")
    assert loaded(project, "subscription_id, mrr_cents, started_at") == [
        ("a", 101, date(2024, 5, 1)), ("b", 1999, None), ("c", 30, None)]  # fmt: skip


def test_hive_parquet_folder_with_several_parts(project: Project) -> None:
    folder = project.landing / "snapshot_date=2025-01-01"
    folder.mkdir()
    for part, ids in enumerate((["a", "b"], ["c"])):
        pq.write_table(pa.table({
            "subscription_id": ids, "customer_id": ids, "status": ["active"] * len(ids),
            "mrr": ["10.00"] * len(ids), "snapshot_date": ["2025-01-01"] * len(ids),
        }), folder / f"part-{part}.parquet")  # fmt: skip
    project.run("2025-01-01", "2025-01-01")
    assert [r[0] for r in loaded(project)] == ["a", "b", "c"]
    assert project.query(
        "select rows_read, rows_loaded, rows_rejected from raw.snapshot_deliveries"
    ) == [(3, 3, 0)]


def test_status_synonyms_map_to_the_five_states(project: Project) -> None:
    raw = ["trialing", "trial", "in_trial", "incomplete", "Active", "past_due", "paused",
           "cancelled", "ended", "expired", "incomplete_expired", "unpaid", " CANCELED "]  # fmt: skip
    project.write_csv(
        "2025-01-01", [sub(f"s{i:02d}", "c", status, "1") for i, status in enumerate(raw)]
    )
    project.run("2025-01-01", "2025-01-01")
    got = project.query(
        "select status_raw, status, stops_involuntarily from raw.subscription_snapshots order by subscription_id"
    )
    assert [g[1] for g in got] == ["trialing"] * 4 + ["active", "past_due", "paused"] + [
        "canceled"
    ] * 6
    assert [g[0] for g in got if g[2]] == ["unpaid"]


def test_user_status_mapping_extends_the_defaults(project: Project) -> None:
    mapping = project.root / "statuses.csv"
    mapping.write_text(
        "status_raw,status,stops_involuntarily\nnon_renewing,active,false\nfuture,trialing,false\n"
    )
    project.settings = replace(project.settings, status_mapping_path=mapping)
    project.write_csv(
        "2025-01-01",
        [sub("a", "c", "non_renewing"), sub("b", "c", "future"), sub("c", "c", "active")],
    )
    project.run("2025-01-01", "2025-01-01")
    assert loaded(project, "status") == [("active",), ("trialing",), ("active",)]


def test_timestamps_convert_to_business_dates(project: Project) -> None:
    project.settings = replace(project.settings, timezone="America/New_York")
    project.write_csv("2025-01-01", [
        sub("a", "c", "active", started_at="2024-06-01T02:00:00Z"),  # 22:00 May 31 in New York
        sub("b", "c", "active", started_at="2024-06-01 23:30:00"),   # no offset: business time
        sub("c", "c", "active", started_at="2024-06-01T23:30:00+09:00"),
        sub("d", "c", "active", started_at="2024-06-01"),
    ])  # fmt: skip
    project.run("2025-01-01", "2025-01-01")
    assert loaded(project, "started_at") == [
        (date(2024, 5, 31),),
        (date(2024, 6, 1),),
        (date(2024, 6, 1),),
        (date(2024, 6, 1),),
    ]


def test_a_bare_date_is_the_date_written_even_on_a_day_the_time_zone_skipped(
    project: Project,
) -> None:
    # Samoa skipped 2011-12-30 (from UTC-10 to UTC+14): no instant of that day exists there
    project.settings = replace(project.settings, timezone="Pacific/Apia", quarantine_threshold=1.0)
    project.write_csv("2025-01-01", [
        sub("a", "c", "active", started_at="2011-12-30"),           # a date: kept as written
        sub("b", "c", "active", started_at="2011-12-30 12:00:00"),  # a time: moved past the gap
        sub("c", "c", "active", started_at="2011-12-30T11:00:00Z"), # 01:00 on the 31st there
        sub("d", "c", "active", started_at="2011-13-01"),           # date-shaped, no date
    ])  # fmt: skip
    project.run("2025-01-01", "2025-01-01")
    assert loaded(project, "subscription_id, started_at") == [
        ("a", date(2011, 12, 30)),
        ("b", date(2011, 12, 31)),
        ("c", date(2011, 12, 31)),
    ]
    assert project.query("select subscription_id, value, rule from raw.rejected_rows") == [
        ("d", "2011-13-01", "invalid_started_at")
    ]


def test_semicolon_csv_with_bom_is_read(project: Project) -> None:
    path = project.landing / "2025-01-01.csv"
    path.write_bytes(
        '\ufeffsubscription_id;customer_id;status;mrr;cancel_reason\ns1;c1;active;12.50;"a; b"\n'.encode()
    )
    project.run("2025-01-01", "2025-01-01")
    assert loaded(project, "subscription_id, mrr_cents") == [("s1", 1250)]


def test_rows_that_break_rules_are_quarantined_and_counted(project: Project) -> None:
    project.settings = replace(project.settings, quarantine_threshold=1.0)
    project.write_csv("2025-01-01", [
        sub("ok", "c1", "active", "10"),
        sub("", "c2", "active", "10"),
        sub("s3", "", "active", "10"),
        sub("s4", "c4", "alive", "10"),
        sub("s5", "c5", "active", "ten"),
        sub("s6", "c6", "active", "-1"),
        sub("s7", "c7", "active", "10", currency="EUR"),
        sub("s8", "c8", "active", "10", ended_at="yesterday"),
        sub("dup", "c9", "active", "10"),
        sub("dup", "c9", "active", "11"),
        sub("s10", "c10", "active", "5000000"),
    ])  # fmt: skip
    project.run("2025-01-01", "2025-01-01")
    assert loaded(project, "subscription_id") == [("ok",)]
    rejected = project.query(
        "select source_row, column_name, value, rule from raw.rejected_rows order by source_row"
    )
    assert rejected == [
        (2, "subscription_id", "", "missing_subscription_id"),
        (3, "customer_id", "", "missing_customer_id"),
        (4, "status", "alive", "unknown_status"),
        (5, "mrr", "ten", "invalid_mrr"),
        (6, "mrr", "-1", "negative_mrr"),
        (7, "currency", "EUR", "foreign_currency"),
        (8, "ended_at", "yesterday", "invalid_ended_at"),
        (9, "subscription_id", "dup", "duplicate_subscription_id"),
        (10, "subscription_id", "dup", "duplicate_subscription_id"),
        (11, "mrr", "5000000", "mrr_above_ceiling"),
    ]
    assert project.query(
        "select rows_read, rows_loaded, rows_rejected from raw.snapshot_deliveries"
    ) == [(11, 1, 10)]


def test_rows_of_one_text_share_a_result_but_keep_their_own_row(project: Project) -> None:
    # Validation reads one row per subscription and text: every other row of that text must
    # get its result, a key duplicated on one date must still be set aside there, and each
    # rejected row must quote its own file, row and texts.
    project.settings = replace(project.settings, quarantine_threshold=1.0)
    for day in ("2025-01-01", "2025-01-02", "2025-01-03"):
        rows = [sub("ok", "c1"), sub("bad", "c2", mrr="ten"), sub(" pad ", "c3", "active", "7")]
        if day == "2025-01-02":
            rows = [sub("x", "c4"), *rows, sub("ok", "c1")]  # "ok" twice, same text
        project.write_csv(day, rows)
    project.run("2025-01-01", "2025-01-03")

    assert project.query(
        "select snapshot_date, source_row, subscription_id, value, rule, raw_row like '%ten%' "
        "from raw.rejected_rows order by all"
    ) == [
        (date(2025, 1, 1), 2, "bad", "ten", "invalid_mrr", True),
        (date(2025, 1, 2), 2, "ok", "ok", "duplicate_subscription_id", False),
        (date(2025, 1, 2), 3, "bad", "ten", "invalid_mrr", True),
        (date(2025, 1, 2), 5, "ok", "ok", "duplicate_subscription_id", False),
        (date(2025, 1, 3), 2, "bad", "ten", "invalid_mrr", True),
    ]
    assert project.query(
        "select snapshot_date, subscription_id, mrr_cents from raw.subscription_snapshots "
        "order by all"
    ) == [
        (date(2025, 1, 1), "ok", 1000),
        (date(2025, 1, 1), "pad", 700),
        (date(2025, 1, 2), "pad", 700),
        (date(2025, 1, 2), "x", 1000),
        (date(2025, 1, 3), "ok", 1000),
        (date(2025, 1, 3), "pad", 700),
    ]
    assert project.query(
        "select snapshot_date, rows_read, rows_loaded, rows_rejected from raw.snapshot_deliveries "
        "order by all"
    ) == [
        (date(2025, 1, 1), 3, 2, 1),
        (date(2025, 1, 2), 5, 2, 3),
        (date(2025, 1, 3), 3, 2, 1),
    ]


def test_same_partition_twice_gives_identical_tables(project: Project) -> None:
    project.write_csv("2025-01-01", [sub("a", "c1"), sub("b", "c2", "paused", "3.50")])
    project.write_csv("2025-01-02", [sub("a", "c1", "active", "12.00")])
    project.run("2025-01-01", "2025-01-02")
    tables = (
        "raw.subscription_snapshots",
        "raw.rejected_rows",
        "core.customer_movements",
        "reporting.churn_by_period",
    )
    first = {t: project.query(f"select * from {t} order by all") for t in tables}
    project.run("2025-01-02", "2025-01-02")
    project.run("2025-01-01", "2025-01-02")
    assert {t: project.query(f"select * from {t} order by all") for t in tables} == first


def test_a_resent_day_replaces_the_older_rows(project: Project) -> None:
    project.write_csv("2025-01-01", [sub("a", "c1", "active", "10")])
    project.write_csv("2025-01-02", [sub("a", "c1", "active", "10"), sub("b", "c2", "active", "5")])
    project.run("2025-01-01", "2025-01-02")
    project.write_csv("2025-01-02", [sub("a", "c1", "active", "20")])
    project.run("2025-01-02", "2025-01-02")
    assert project.query(
        "select subscription_id, mrr_cents from raw.subscription_snapshots where snapshot_date = '2025-01-02'"
    ) == [("a", 2000)]
    assert [(m["customer_id"], m["movement"]) for m in project.movements()] == [("c1", "expansion")]


def test_a_restated_period_shows_a_newer_computed_at(project: Project) -> None:
    for day, mrr in (
        ("2025-01-01", "10"),
        ("2025-01-02", "10"),
        ("2025-01-03", "10"),
        ("2025-01-04", "10"),
    ):
        project.write_csv(day, [sub("a", "c1", "active", mrr)])
    project.run("2025-01-01", "2025-01-04")
    before = dict(
        project.query(
            "select period_start, computed_at from reporting.churn_by_period where grain = 'day'"
        )
    )
    project.run("2025-01-04", "2025-01-04")  # nothing changed: nothing restated
    assert (
        dict(
            project.query(
                "select period_start, computed_at from reporting.churn_by_period where grain = 'day'"
            )
        )
        == before
    )
    project.write_csv("2025-01-03", [sub("a", "c1", "active", "15")])  # a corrected day
    project.run("2025-01-03", "2025-01-03")
    after = dict(
        project.query(
            "select period_start, computed_at from reporting.churn_by_period where grain = 'day'"
        )
    )
    assert after[date(2025, 1, 2)] == before[date(2025, 1, 2)]
    assert (
        after[date(2025, 1, 3)] > before[date(2025, 1, 3)]
        and after[date(2025, 1, 4)] > before[date(2025, 1, 4)]
    )


def _parquet_day(project: Project, day: str, **columns: list) -> None:
    pq.write_table(pa.table(columns), project.landing / f"{day}.parquet")


def test_a_window_of_parquet_files_of_different_layouts_loads_every_row(project: Project) -> None:
    """Files of a window are read together when their columns agree; different types, extra
    columns, a hive folder and a CSV among them change nothing."""
    base = {"subscription_id": ["a", "b"], "customer_id": ["c1", "c2"], "status": ["active"] * 2}
    _parquet_day(project, "2025-01-01", **base, mrr=[10.0, 20.5], note=[1, 2])
    _parquet_day(project, "2025-01-02", **base, mrr=["10.00", "20.50"], note=["x", "y"])
    _parquet_day(project, "2025-01-03", **base, mrr=[10.0, 20.5], note=[3, 4])
    folder = project.landing / "snapshot_date=2025-01-04"
    folder.mkdir()
    for part, sid in enumerate(("a", "b")):
        pq.write_table(pa.table({"subscription_id": [sid], "customer_id": [f"c{part + 1}"],
                                 "status": ["active"], "mrr": [10.0 if sid == "a" else 20.5]}),
                       folder / f"part-{part}.parquet")  # fmt: skip
    project.write_csv(
        "2025-01-05", [sub("a", "c1", "active", "10"), sub("b", "c2", "active", "20.5")]
    )
    _parquet_day(project, "2025-01-06", **base, mrr=[10.0, 20.5], note=[5, 6])
    project.run("2025-01-01", "2025-01-06")
    rows = project.query(
        "select snapshot_date, subscription_id, mrr_cents, source_file, source_row "
        "from raw.subscription_snapshots order by snapshot_date, subscription_id"
    )
    assert [(r[0].day, r[1], r[2]) for r in rows] == [
        (day, sid, cents) for day in range(1, 7) for sid, cents in (("a", 1000), ("b", 2050))]  # fmt: skip
    # every layout gives the same canonical rows, so each subscription has one version, read
    # from the first file; each date's own files are in raw.snapshot_deliveries
    assert {(r[3].rsplit("/", 1)[1], r[4]) for r in rows} == {
        ("2025-01-01.parquet", 1),
        ("2025-01-01.parquet", 2),
    }
    assert project.query("select count(*) from raw.subscription_changes") == [(2,)]
    delivered = project.query(
        "select source_files from raw.snapshot_deliveries order by snapshot_date"
    )
    assert [[name.rsplit("/", 1)[1] for name in files.split(", ")] for (files,) in delivered] == [
        ["2025-01-01.parquet"], ["2025-01-02.parquet"], ["2025-01-03.parquet"],
        ["part-0.parquet", "part-1.parquet"], ["2025-01-05.csv"], ["2025-01-06.parquet"]]  # fmt: skip
    assert project.query(
        "select count(*), sum(rows_loaded) from raw.snapshot_deliveries where status = 'loaded'"
    ) == [(6, 12)]
    # the 1st, 3rd and 6th files share a schema, described once (_parquet_layouts)
    assert project.query(
        "select day(snapshot_date), unknown_columns from raw.snapshot_deliveries order by 1"
    ) == [(1, "note"), (2, "note"), (3, "note"), (4, None), (5, None), (6, "note")]


def test_changes_and_rejected_rows_name_their_own_file_and_row(project: Project) -> None:
    """Rows are keyed by a file number within the chunk (`staged_files`); every change and
    every rejected row still names its own file and row, whichever read staged it: two
    single files read together around a hive folder of two parts and a CSV."""
    project.settings = replace(project.settings, quarantine_threshold=1.0)
    _parquet_day(project, "2025-01-01", subscription_id=["a", "b"], customer_id=["c1", "c2"],
                 status=["active"] * 2, mrr=[10.0, 20.0])  # fmt: skip
    folder = project.landing / "snapshot_date=2025-01-02"
    folder.mkdir()
    pq.write_table(pa.table({"subscription_id": ["a"], "customer_id": ["c1"], "status": ["active"],
                             "mrr": [10.0]}), folder / "part-0.parquet")  # fmt: skip
    pq.write_table(pa.table({"subscription_id": ["x", "b"], "customer_id": ["c9", "c2"],
                             "status": ["active"] * 2, "mrr": [-5.0, 30.0]}),
                   folder / "part-1.parquet")  # fmt: skip
    project.write_csv("2025-01-03", [sub("a", "c1", "active", "15"), sub("b", "c2", "active", "30"),
                                     sub("y", "c8", "weird", "1")])  # fmt: skip
    _parquet_day(project, "2025-01-04", subscription_id=["a", "b", "d"],
                 customer_id=["c1", "c2", "c3"], status=["active"] * 3, mrr=[15.0, 30.0, 40.0])  # fmt: skip
    project.run("2025-01-01", "2025-01-04")
    changes = project.query(
        "select day(changed_on), subscription_id, source_file, source_row "
        "from raw.subscription_changes where is_listed order by all"
    )
    assert [(day, sid, file.rsplit("/", 1)[1], row) for day, sid, file, row in changes] == [
        (1, "a", "2025-01-01.parquet", 1), (1, "b", "2025-01-01.parquet", 2),
        (2, "b", "part-1.parquet", 2), (3, "a", "2025-01-03.csv", 1),
        (4, "d", "2025-01-04.parquet", 3)]  # fmt: skip
    rejected = project.query(
        "select day(snapshot_date), source_file, source_row, subscription_id, rule "
        "from raw.rejected_rows order by all"
    )
    assert [(day, file.rsplit("/", 1)[1], *rest) for day, file, *rest in rejected] == [
        (2, "part-1.parquet", 1, "x", "negative_mrr"), (3, "2025-01-03.csv", 3, "y", "unknown_status")]  # fmt: skip


def test_each_parquet_file_is_read_with_its_own_columns(project: Project) -> None:
    """Files with the same schema share one description of it (_parquet_layouts); a file with
    other columns between them is read with its own: its plan loads, its extra column is its
    own unknown one."""
    base = {"subscription_id": ["a"], "customer_id": ["c1"], "status": ["active"]}
    _parquet_day(project, "2025-01-01", **base, mrr=["10.00"])
    _parquet_day(project, "2025-01-02", **base, mrr=["10.00"], plan=["pro"], extra=["x"])
    _parquet_day(project, "2025-01-03", **base, mrr=["10.00"])
    project.run("2025-01-01", "2025-01-03")
    assert project.query(
        "select day(snapshot_date), plan from raw.subscription_snapshots order by 1"
    ) == [(1, None), (2, "pro"), (3, None)]
    assert project.query(
        "select day(snapshot_date), unknown_columns from raw.snapshot_deliveries order by 1"
    ) == [(1, None), (2, "extra"), (3, None)]


SAME_LAYOUT = pa.schema([("subscription_id", pa.string()), ("customer_id", pa.string()),
                        ("status", pa.string()), ("mrr", pa.float64()), ("snapshot_date", pa.string())])  # fmt: skip


def _same_layout_day(project: Project, day: str, rows: list[tuple]) -> Path:
    path = project.landing / f"{day}.parquet"
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in SAME_LAYOUT]
    pq.write_table(
        pa.table(dict(zip(SAME_LAYOUT.names, columns, strict=True)), schema=SAME_LAYOUT), path
    )
    return path


def _corrupt_data_pages(path: Path) -> None:
    """Zeroes the middle of the file: the footer (and so the columns) still reads."""
    data = bytearray(path.read_bytes())
    data[100 : len(data) * 3 // 4] = bytes(len(data) * 3 // 4 - 100)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("middle_rows", "refused"),
    [
        ([("a", "c1", "active", 1.0, "2025-01-02"), ("b", "c2", "active", 2.0, "2025-01-01")],
         r"2025-01-02\.parquet: row 2 has snapshot_date 2025-01-01 but the file name says 2025-01-02"),
        ([], r"2025-01-02\.parquet: the file has columns but no rows"),
        ("corrupt", r"2025-01-02\.parquet: not a readable Parquet file \(.*2025-01-02\.parquet"),
    ],
)  # fmt: skip
def test_a_bad_file_among_files_read_together_fails_the_window_naming_it(
    project: Project, middle_rows: list[tuple] | str, refused: str
) -> None:
    """The three files have the same columns, so they are read by one statement."""
    for day in ("2025-01-01", "2025-01-02", "2025-01-03"):
        rows = middle_rows if day == "2025-01-02" and middle_rows != "corrupt" else [
            (f"s{i}", f"c{i}", "active", float(i), day) for i in range(20000)]  # fmt: skip
        path = _same_layout_day(project, day, rows)
        if day == "2025-01-02" and middle_rows == "corrupt":
            _corrupt_data_pages(path)
    with pytest.raises(RunFailedError, match=refused):
        project.run("2025-01-01", "2025-01-03")
    assert not project.settings.warehouse_path.exists() or project.query(
        "select count(*) from raw.subscription_snapshots") == [(0,)]  # fmt: skip


@pytest.mark.parametrize("change", ["renamed over, same size and times", "rewritten", "removed"])
def test_a_parquet_file_changed_while_its_window_loads_is_refused(
    project: Project, change: str
) -> None:
    """Parquet files are read where the statements use them (`staged_rows` is a view), so
    a file replaced half-way would be validated from one version and quoted from another."""
    for day in ("2025-01-01", "2025-01-02"):
        _same_layout_day(project, day, [("a", "c1", "active", 1.0, day)])
    sources = list(discover(project.landing).values())
    conn = duckdb.connect()
    create_staging_table(conn)
    staged = stage_sources(conn, sources)
    assert conn.execute("select count(*) from staged_rows").fetchone() == (2,)
    staged.ensure_unchanged()
    changed = project.landing / "2025-01-02.parquet"
    if change == "removed":
        changed.unlink()
    elif change == "rewritten":
        _same_layout_day(project, "2025-01-02", [("a", "c9", "active", 1.0, "2025-01-02")] * 2)
    else:  # a re-export of the same size moved over it with its times kept (cp -p, rsync -t)
        times = changed.stat()
        replacement = project.landing / ".2025-01-02.parquet.tmp"
        _same_layout_day(project, "2025-01-02", [("b", "c1", "active", 1.0, "2025-01-02")])
        changed.rename(replacement)
        os.utime(replacement, ns=(times.st_atime_ns, times.st_mtime_ns))
        replacement.rename(changed)
        assert (changed.stat().st_size, changed.stat().st_mtime_ns) == (
            times.st_size, times.st_mtime_ns)  # fmt: skip
    with pytest.raises(SnapshotFileError, match=(
        rf"^{changed}: the file changed while it was being loaded \(it was replaced, rewritten or removed\)")):  # fmt: skip
        staged.ensure_unchanged()
    drop_staging(conn)
    assert conn.execute(
        "select count(*) from duckdb_views() where view_name = 'staged_rows' "
        "union all select count(*) from duckdb_variables() where name like 'staged_parquet_%'"
    ).fetchall() == [(0,), (0,)]


def test_a_statement_failing_on_staged_files_names_the_change_or_keeps_its_own_error(
    project: Project,
) -> None:
    """A file rewritten without a column makes the next read of `staged_rows` fail: the
    error says the file changed, not DuckDB's binder text. An error of the statement itself
    (the files intact and readable) is raised as it is, never blamed on a file."""
    _same_layout_day(project, "2025-01-02", [("a", "c1", "active", 1.0, "2025-01-02")])
    conn = duckdb.connect()
    create_staging_table(conn)
    staged = stage_sources(conn, list(discover(project.landing).values()))
    with (
        pytest.raises(duckdb.BinderException, match="no_such_column"),
        staged.read_errors_named(),
    ):
        conn.execute("select no_such_column from staged_rows").fetchall()
    changed = project.landing / "2025-01-02.parquet"
    pq.write_table(
        pa.table({"subscription_id": ["a"], "customer_id": ["c1"], "mrr": [1.0]}), changed
    )
    with (
        pytest.raises(
            SnapshotFileError, match=rf"^{changed}: the file changed while it was being loaded"
        ),
        staged.read_errors_named(),
    ):
        conn.execute("select count(status) from staged_rows").fetchall()


def test_rejected_rows_of_files_read_together_quote_their_own_texts(project: Project) -> None:
    """Rejected rows are joined back to the staged texts: each quotes its own file and row,
    and a hive folder (read alone) keeps the date of its folder name."""
    project.settings = replace(project.settings, quarantine_threshold=1.0)
    # snapshot_date typed as a date, as DuckDB types the hive folder's path column: the same
    # columns as the hive folder, which must still not share their read
    layout = SAME_LAYOUT.set(4, pa.field("snapshot_date", pa.date32()))
    for day, mrr in (("2025-01-01", [1.0, -2.5]), ("2025-01-02", [-1.0, 2.0])):
        pq.write_table(pa.table({"subscription_id": ["a", "b"], "customer_id": ["c1", "c2"],
                                 "status": ["active"] * 2, "mrr": mrr, "snapshot_date": [None, None]},
                                schema=layout), project.landing / f"{day}.parquet")  # fmt: skip
    folder = project.landing / "snapshot_date=2025-01-03"
    folder.mkdir()
    pq.write_table(pa.table({"subscription_id": ["a", "b"], "customer_id": ["c1", "c2"],
                             "status": ["active", "unknown-status"], "mrr": [1.0, 2.0]}),
                   folder / "part-0.parquet")  # fmt: skip
    project.run("2025-01-01", "2025-01-03")
    rejected = project.query(
        "select snapshot_date, source_row, subscription_id, column_name, value, rule, raw_row "
        "from raw.rejected_rows order by snapshot_date"
    )
    assert [row[:6] for row in rejected] == [
        (date(2025, 1, 1), 2, "b", "mrr", "-2.5", "negative_mrr"),
        (date(2025, 1, 2), 1, "a", "mrr", "-1.0", "negative_mrr"),
        (date(2025, 1, 3), 2, "b", "status", "unknown-status", "unknown_status"),
    ]
    assert [json.loads(row[6]) for row in rejected] == [
        {"subscription_id": "b", "customer_id": "c2", "status": "active", "mrr": "-2.5",
         "currency": None, "plan": None, "started_at": None, "canceled_at": None,
         "ended_at": None, "cancel_reason": None, "snapshot_date": None},
        {"subscription_id": "a", "customer_id": "c1", "status": "active", "mrr": "-1.0",
         "currency": None, "plan": None, "started_at": None, "canceled_at": None,
         "ended_at": None, "cancel_reason": None, "snapshot_date": None},
        {"subscription_id": "b", "customer_id": "c2", "status": "unknown-status", "mrr": "2.0",
         "currency": None, "plan": None, "started_at": None, "canceled_at": None,
         "ended_at": None, "cancel_reason": None, "snapshot_date": "2025-01-03"},
    ]  # fmt: skip


def test_a_part_name_that_reads_as_a_pattern_is_refused_not_read_twice(project: Project) -> None:
    """DuckDB expands `part-[0].parquet` to `part-0.parquet`: that part would be read twice
    and `part-[0]` never."""
    folder = project.landing / "snapshot_date=2025-01-01"
    folder.mkdir()
    for name, ids in (("part-0.parquet", ["a"]), ("part-[0].parquet", ["b"])):
        pq.write_table(pa.table({"subscription_id": ids, "customer_id": ids, "status": ["active"],
                                 "mrr": [1.0]}), folder / name)  # fmt: skip
    with pytest.raises(RunFailedError, match=r"part-0\.parquet: read in place of, or as well as"):
        project.run("2025-01-01", "2025-01-01")


def test_a_gap_is_recorded_not_fatal(project: Project) -> None:
    project.write_csv("2025-01-01", [sub("a", "c1")])
    project.write_csv("2025-01-03", [sub("a", "c1")])
    project.run("2025-01-01", "2025-01-03")
    assert project.query("select snapshot_date, status, rows_read from raw.snapshot_deliveries order by 1") == [
        (date(2025, 1, 1), "loaded", 1), (date(2025, 1, 2), "missing", 0), (date(2025, 1, 3), "loaded", 1)]  # fmt: skip


def test_newest_date_without_a_file_fails_naming_the_file(project: Project) -> None:
    project.write_csv("2025-01-01", [sub("a", "c1")])
    with pytest.raises(RunFailedError, match=r"no snapshot file for 2025-01-02 .*2025-01-02\.csv"):
        project.run("2025-01-01", "2025-01-02")


def test_missing_required_column_names_the_file(project: Project) -> None:
    (project.landing / "2025-01-01.csv").write_text(
        "subscription_id,customer_id,status\ns1,c1,active\n"
    )
    with pytest.raises(RunFailedError, match=r"2025-01-01\.csv: required column\(s\) mrr missing"):
        project.run("2025-01-01", "2025-01-01")
    assert not project.settings.warehouse_path.exists() or project.query(
        "select count(*) from raw.subscription_snapshots") == [(0,)]  # fmt: skip


def test_failed_run_leaves_the_previous_data(project: Project) -> None:
    project.write_csv("2025-01-01", [sub("a", "c1", "active", "10")])
    project.run("2025-01-01", "2025-01-01")
    (project.landing / "2025-01-01.csv").write_bytes(
        b"subscription_id,customer_id,status,mrr\ns1,c1,active,\xe9\n"
    )
    with pytest.raises(RunFailedError, match="not UTF-8"):
        project.run("2025-01-01", "2025-01-01")
    assert loaded(project) == [("a", "active", 1000)]


def test_a_bad_file_in_a_later_chunk_writes_nothing_of_the_window(project: Project) -> None:
    """A window is validated chunk by chunk outside any transaction and stored in one: a file
    broken in its second chunk leaves every table as the last good run left it, the first
    chunk's corrected day included."""
    window = days("2025-01-01", "2025-02-04")  # 35 dates: two chunks of at most 31
    for day in window:
        project.write_csv(day, [sub("a", "c1", "active", "10")])
    project.run(window[0], window[-1])
    before = {
        table: project.query(f"select * from {table} order by all")
        for table in ("raw.subscription_changes", "raw.snapshot_deliveries", "raw.rejected_rows")
    }
    project.write_csv(window[0], [sub("a", "c1", "active", "12"), sub("b", "c2", "active", "x")])
    (project.landing / f"{window[-2]}.csv").write_bytes(
        b"subscription_id,customer_id,status,mrr\ns1,c1,active,\xe9\n"
    )
    with pytest.raises(RunFailedError, match="not UTF-8"):
        project.run(window[0], window[-1])
    for table, rows in before.items():
        assert project.query(f"select * from {table} order by all") == rows, table


def test_two_files_for_one_date_are_refused(project: Project) -> None:
    project.write_csv("2025-01-01", [sub("a", "c1")])
    pq.write_table(pa.table({"subscription_id": ["a"], "customer_id": ["c1"], "status": ["active"], "mrr": [1.0]}),
                   project.landing / "2025-01-01.parquet")  # fmt: skip
    with pytest.raises(RunFailedError, match="two different files for snapshot date 2025-01-01"):
        project.run("2025-01-01", "2025-01-01")


def test_snapshot_date_column_must_match_the_file_name(project: Project) -> None:
    project.write_csv(
        "2025-01-01",
        [sub("a", "c1", snapshot_date="2025-01-01"), sub("b", "c1", snapshot_date="2024-12-31")],
    )
    with pytest.raises(
        RunFailedError, match="row 2 has snapshot_date 2024-12-31 but the file name says 2025-01-01"
    ):
        project.run("2025-01-01", "2025-01-01")


def test_reason_text_with_quotes_and_newlines_round_trips(project: Project) -> None:
    nasty = "Robert'); drop table raw.subscription_snapshots;--\nsecond line, «ß»"
    project.write_csv("2024-12-31", [sub("a", "c1"), sub("b", "c2")])
    project.write_csv(
        "2025-01-01", [sub("a", "c1", "canceled", cancel_reason=nasty), sub("b", "c2")]
    )
    project.run("2024-12-31", "2025-01-01")
    [churn] = project.movements("c1")
    assert churn["reason_raw"] == nasty and churn["reason_category"] == "other"


def test_a_file_with_too_many_rejected_rows_is_refused_and_treated_as_a_gap(
    project: Project,
) -> None:
    good = [sub(f"s{i}", f"c{i}", "active", "10") for i in range(10)]
    project.write_csv("2025-01-01", good)
    project.write_csv(
        "2025-01-02",
        [*good[:8], sub("s8", "c8", "active", "oops"), sub("s9", "c9", "active", "oops")],
    )
    project.write_csv("2025-01-03", good)
    with pytest.raises(
        RunFailedError,
        match="check quarantine_within_threshold on raw/subscription_snapshots failed",
    ):
        project.run("2025-01-01", "2025-01-03")
    assert project.query("select snapshot_date, status, rows_read, rows_rejected from raw.snapshot_deliveries order by 1") == [
        (date(2025, 1, 1), "loaded", 10, 0), (date(2025, 1, 2), "refused", 10, 2), (date(2025, 1, 3), "loaded", 10, 0)]  # fmt: skip
    # the broken day never becomes churn; with a tolerant threshold the same file loads
    project.run("2025-01-03", "2025-01-03")
    assert project.query(
        "select count(*) from core.customer_movements where movement = 'churn'"
    ) == [(0,)]
    project.settings = replace(project.settings, quarantine_threshold=0.25)
    project.run("2025-01-02", "2025-01-02")
    assert project.query(
        "select status from raw.snapshot_deliveries where snapshot_date = '2025-01-02'"
    ) == [("loaded",)]
    assert project.query(
        "select count(*) from core.customer_movements where movement = 'churn'"
    ) == [(0,)]


def test_a_link_out_of_the_landing_folder_is_refused(project: Project) -> None:
    outside = project.root / "elsewhere.csv"
    outside.write_text("subscription_id,customer_id,status,mrr\ns,c,active,1\n")
    (project.landing / "2025-01-01.csv").symlink_to(outside)
    with pytest.raises(RunFailedError, match=r"2025-01-01\.csv: points outside the landing folder"):
        project.run("2025-01-01", "2025-01-01")


@pytest.mark.parametrize("linked", ["folder", "part"])
def test_a_hive_folder_or_part_linked_out_of_the_landing_folder_is_refused(
    project: Project, linked: str
) -> None:
    outside = project.root / "elsewhere"
    outside.mkdir()
    pq.write_table(
        pa.table(
            {"subscription_id": ["s"], "customer_id": ["c"], "status": ["active"], "mrr": ["1"]}
        ),
        outside / "part-0.parquet",
    )
    folder = project.landing / "snapshot_date=2025-01-01"
    if linked == "folder":
        folder.symlink_to(outside, target_is_directory=True)
        refused = r"snapshot_date=2025-01-01: points outside the landing folder"
    else:
        folder.mkdir()
        (folder / "part-0.parquet").symlink_to(outside / "part-0.parquet")
        refused = r"part-0\.parquet: points outside the landing folder"
    with pytest.raises(RunFailedError, match=refused):
        project.run("2025-01-01", "2025-01-01")


def raw_tables(conn: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    return {
        table: conn.execute(
            f"select * exclude ({volatile}) from raw.{table} order by all"
        ).fetchall()
        for table, volatile in (
            ("subscription_snapshots", "source_file"),
            ("rejected_rows", "source_file"),
            ("snapshot_deliveries", "ingested_at, source_files"),
        )
    }


def test_a_chunk_never_spans_more_dates_than_a_text_mask_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from churn_pipeline import ingestion

    plan = [ingestion._PlannedDate(date(2025, 1, 1) + timedelta(days=n), None) for n in range(260)]
    assert [len(chunk) for chunk in ingestion.chunked(plan, {}, None)] == [127, 127, 6]
    monkeypatch.setattr(ingestion, "CHUNK_DAYS", 62)
    assert [len(chunk) for chunk in ingestion.chunked(plan, {}, None)] == [62, 62, 62, 62, 12]
    monkeypatch.setattr(ingestion, "CHUNK_DAYS", 128)  # the 128th date's rows would be lost
    with pytest.raises(ValueError, match="a chunk holds 1 to 127 dates"):
        ingestion.chunked(plan, {}, None)


def test_a_window_is_loaded_in_chunks_that_fit_the_memory_limit_with_the_same_rows(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six dates of 3, 3, 3, 7 (Parquet), 3 and 3 rows under a budget of 6 rows: chunks of
    the 1st–2nd, the 3rd, the 4th alone (over the budget on its own) and the 5th–6th. The
    history rule (s1 names another customer on the 3rd and the 5th) reaches across chunks."""
    from churn_pipeline import ingestion, warehouse

    three = [sub("s1", "c1"), sub("s2", "c2"), sub("s3", "c3")]
    for day in ("2025-01-01", "2025-01-02", "2025-01-06"):
        project.write_csv(day, three)
    project.write_csv("2025-01-03", [sub("s1", "c9"), *three[1:]])
    project.write_csv("2025-01-05", [sub("s1", "c8"), *three[1:]])
    seven = [*three, *(sub(f"s{n}", f"c{n}") for n in range(4, 8))]
    pq.write_table(
        pa.table({key: [row[key] for row in seven] for key in seven[0]}),
        project.landing / "2025-01-04.parquet",
    )
    loads = {}
    for label, row_bytes in (("one chunk", ingestion.STAGED_ROW_BYTES), ("chunked", 2**26 // 6)):
        monkeypatch.setattr(ingestion, "STAGED_ROW_BYTES", row_bytes)
        settings = replace(
            project.settings,
            duckdb_memory_limit="64MiB",  # 2**26 bytes: a budget of 6 rows when chunked
            warehouse_path=project.root / f"{label}.duckdb",
        )
        with warehouse.open_warehouse(settings) as conn:
            summary = ingestion.ingest_window(conn, settings, date(2025, 1, 1), date(2025, 1, 6))
            loads[label] = (summary.chunks, summary.rows_loaded, raw_tables(conn))

    assert loads["one chunk"][:2] == (1, 20) and loads["chunked"][:2] == (4, 20)
    assert loads["chunked"][2] == loads["one chunk"][2]
    rejected = loads["chunked"][2]["rejected_rows"]
    assert [(row[0], row[2], row[5]) for row in rejected] == [
        (date(2025, 1, 3), "s1", "subscription_changed_customer"),
        (date(2025, 1, 5), "s1", "subscription_changed_customer")]  # fmt: skip


def test_a_staged_row_key_orders_like_the_row_and_reads_back(project: Project) -> None:
    """subscription_texts.sql finds each text's earliest row as the min() of one integer per
    row (raw.staged_row_key): it must order like (date, file number, row) and give back each
    part, up to a chunk's last date, the largest file number and the largest row number."""
    from churn_pipeline import warehouse

    rows = [(126, 2**31 - 1, 2**63 - 1), (126, 2**31 - 1, 1), (126, 1, 2**63 - 1), (1, 3, 7),
            (0, 2**31 - 1, 2**63 - 1), (0, 2, 1), (0, 1, 2**40), (0, 1, 1)]  # fmt: skip
    start = date(2025, 1, 1)
    with warehouse.open_warehouse(project.settings) as conn:
        keyed = conn.execute(
            "select raw.staged_row_of_key(raw.staged_row_key(day, file, row), $start) "
            "from (select unnest($days) as day, unnest($files) as file, unnest($rows) as row) "
            "order by raw.staged_row_key(day, file, row) desc",
            {"start": start, "days": [r[0] for r in rows], "files": [r[1] for r in rows],
             "rows": [r[2] for r in rows]},
        ).fetchall()  # fmt: skip
    assert [tuple(row.values()) for (row,) in keyed] == [
        (start + timedelta(days=day), file, row) for day, file, row in rows
    ]


def test_a_key_listed_twice_on_the_last_date_of_a_full_chunk_is_set_aside(
    project: Project,
) -> None:
    """Duplicates are found from each text's mask of dates (subscription_texts.sql): one bit a
    date, up to the 127th of a chunk. `s1` is listed twice on that date only, `s2` twice on
    the 61st with another text on its second row; `s3` never, its rows of one text on two
    separate stretches of dates."""
    from churn_pipeline import ingestion, warehouse

    dates = days("2025-01-01", "2025-05-07")
    assert len(dates) == ingestion.CHUNK_DAYS == 127
    for index, day in enumerate(dates):
        rows = [
            sub("s1", "c1"),
            sub("s2", "c2"),
            sub("s3", "c3", mrr="30.00" if 9 <= index < 20 else "10.00"),
        ]
        if index == 126:
            rows.append(sub("s1", "c1"))
        if index == 125:
            rows.append(sub("s2", "c2", mrr="20.00"))
        project.write_csv(day.isoformat(), rows)
    with warehouse.open_warehouse(project.settings) as conn:
        summary = ingestion.ingest_window(conn, project.settings, dates[0], dates[-1])
        rejected = conn.execute(
            "select snapshot_date, subscription_id, rule from raw.rejected_rows order by all"
        ).fetchall()
    assert summary.chunks == 1 and summary.rows_read == 127 * 3 + 2
    assert rejected == [
        (dates[125], "s2", "duplicate_subscription_id"),
        (dates[125], "s2", "duplicate_subscription_id"),
        (dates[126], "s1", "duplicate_subscription_id"),
        (dates[126], "s1", "duplicate_subscription_id"),
    ]


def _history_with_rows_without_an_id() -> dict[date, list[dict[str, str]]]:
    history = random_history(1021)  # quarantined rows, duplicated ids, gaps
    dates = sorted(history)
    no_id = {"subscription_id": " ", "customer_id": "c0", "status": "active", "mrr": "5.00"}
    history[dates[3]] = [*history[dates[3]], no_id]
    history[dates[25]] = [*history[dates[25]], no_id, no_id]  # one text twice on a date
    return history


def _clean_history_of_a_full_chunk() -> dict[date, list[dict[str, str]]]:
    # 127 dates (one chunk, every bit of the date masks), texts changing and coming back
    return {
        day: [
            sub(f"s{n}", f"c{n}", mrr=f"{10 + (index // (n + 3)) % 3}.00")
            for n in range(8)
            if (index + n) % 17 != 0
        ]
        for index, day in enumerate(days("2025-01-01", "2025-05-07"))
    }


@pytest.mark.parametrize(
    ("history", "chunk_days", "texts_chunks", "row_by_row_chunks"),
    [(_history_with_rows_without_an_id(), 10, 2, 2), (_clean_history_of_a_full_chunk(), 127, 1, 0)],
    ids=["seed 1021 and rows without an id", "a clean full chunk"],
)
def test_deliveries_counted_from_texts_equal_those_counted_row_by_row(
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
    history: dict[date, list[dict[str, str]]],
    chunk_days: int,
    texts_chunks: int,
    row_by_row_chunks: int,
) -> None:
    """A chunk's deliveries are counted from its texts (delivery_accounting_of_texts.sql) unless
    a key is duplicated or a text is listed twice on a date; then row by row. Counting every
    chunk row by row gives the same deliveries, fingerprints included."""
    from churn_pipeline import ingestion, warehouse

    dates = sorted(history)
    for day, rows in history.items():
        project.write_csv(day, rows)
    monkeypatch.setattr(ingestion, "CHUNK_DAYS", chunk_days)
    statements: Counter[str] = Counter()
    run_statement = warehouse.run

    def counting_run(conn, settings, name, params=None):  # type: ignore[no-untyped-def]
        statements[name] += 1
        return run_statement(conn, settings, name, params)

    monkeypatch.setattr(warehouse, "run", counting_run)
    loads = {}
    for way in ("from texts where possible", "row by row"):
        if way == "row by row":
            monkeypatch.setattr(
                ingestion,
                "_count_deliveries",
                lambda conn, settings, _: run_statement(
                    conn, settings, "staging/delivery_accounting"
                ),
            )
        settings = replace(project.settings, warehouse_path=project.root / f"{way}.duckdb")
        with warehouse.open_warehouse(settings) as conn:
            summary = ingestion.ingest_window(conn, settings, dates[0], dates[-1])
            deliveries = conn.execute(
                "select * exclude (ingested_at) from raw.snapshot_deliveries order by snapshot_date"
            ).fetchall()
        loads[way] = (
            deliveries,
            summary.rows_read,
            summary.rows_rejected,
            summary.rejected_by_rule,
        )
        if way == "from texts where possible":
            counted = dict(statements)

    assert counted.get("staging/delivery_accounting_of_texts", 0) >= texts_chunks
    assert counted.get("staging/delivery_accounting", 0) >= row_by_row_chunks
    assert loads["from texts where possible"] == loads["row by row"]
    deliveries, rows_read, rows_rejected, by_rule = loads["row by row"]
    assert [row[3] for row in deliveries if row[1] != "missing"] == [
        len(history[day]) for day in dates
    ]
    assert rows_read == sum(len(rows) for rows in history.values())
    assert rows_rejected == sum(by_rule.values())


def test_checkpoints_deferred_while_chunks_are_gathered_put_the_threshold_back(
    project: Project,
) -> None:
    """Ingestion gathers its chunks in temp tables without automatic checkpoints
    (warehouse.checkpoints_deferred); the database's threshold is put back afterwards, also
    when a file fails in the middle, so the warehouse's own writes checkpoint as configured."""
    from churn_pipeline import ingestion, warehouse

    project.write_csv("2025-01-01", [sub("a", "c1")])
    (project.landing / "2025-01-02.csv").write_text(
        "subscription_id,customer_id,status\ns1,c1,active\n"
    )

    def threshold(conn: duckdb.DuckDBPyConnection) -> str:
        row = conn.execute("select current_setting('checkpoint_threshold')").fetchone()
        return str(row[0]) if row else ""

    seen = []
    with warehouse.open_warehouse(project.settings) as conn:
        conn.execute("set checkpoint_threshold = '32 MiB'")
        with warehouse.checkpoints_deferred(conn):
            seen.append(threshold(conn))
        seen.append(threshold(conn))
        ingestion.ingest_window(conn, project.settings, date(2025, 1, 1), date(2025, 1, 1))
        seen.append(threshold(conn))
        with pytest.raises(SnapshotFileError, match="required column"):
            ingestion.ingest_window(conn, project.settings, date(2025, 1, 1), date(2025, 1, 2))
        seen.append(threshold(conn))
        variables = conn.execute("select count(*) from duckdb_variables()").fetchone()
    assert seen == ["1.0 TiB", "32.0 MiB", "32.0 MiB", "32.0 MiB"]
    assert variables == (0,)
