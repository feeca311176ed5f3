"""Warehouse mode stores each subscription's row only where it changes (raw.subscription_changes)
and reads every row through the view raw.subscription_snapshots. These tests hold that storage
to what storing every row gave: the same rows whatever order the windows are loaded in, after a
corrected file, and when a warehouse built before change storage is converted."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from churn_pipeline import movements, warehouse
from tests.conftest import Project, sub
from tests.reference.histories import random_history

SNAPSHOT_VALUES = (  # the view's columns but the provenance, which names a version's first file
    "snapshot_date, subscription_id, customer_id, status, status_raw, stops_involuntarily, "
    "mrr_cents, currency, plan, started_at, canceled_at, ended_at, cancel_reason"
)


def _snapshot_rows(project: Project) -> list[tuple]:
    return project.query(f"select {SNAPSHOT_VALUES} from raw.subscription_snapshots order by all")


def _changes(project: Project) -> list[tuple]:
    return project.query(
        "select * exclude (source_file, source_row) from raw.subscription_changes order by all"
    )


def _write(project: Project, history: dict[date, list[dict[str, str]]]) -> list[date]:
    for day, rows in history.items():
        project.write_csv(day, rows)
    return sorted(history)


def _run_in_pieces_with_a_correction(
    project: Project, history: dict[date, list[dict[str, str]]]
) -> None:
    """Runs the written history in four overlapping windows out of order, then sends a day
    inside it again, corrected (one subscription gone, one repriced; `history` gets it too)."""
    loaded = sorted(history)
    first, last = loaded[0], loaded[-1]
    third = (last - first) // 3
    middle_start, middle_end = first + third, first + 2 * third
    late_start = middle_end + max(third // 2, timedelta(days=2))
    project.run(middle_start, middle_end)
    project.run(late_start, last)  # compared with the middle's last day, across a hole
    project.run(first, middle_start)  # overlaps the middle's first day
    project.run(middle_end + timedelta(days=1), late_start - timedelta(days=1))  # the hole
    corrected_day = next(d for d in loaded if middle_start < d < middle_end and len(history[d]) > 2)
    corrected = [dict(row) for row in history[corrected_day][1:]]
    corrected[0]["mrr"] = "123.45"
    history[corrected_day] = corrected
    project.write_csv(corrected_day, corrected)
    project.run(corrected_day, corrected_day)


def _movement_logs(project: Project) -> tuple[list[tuple], list[tuple]]:
    """The movement log the runs derived (comparing only the customers whose subscriptions
    changed), and the one comparing every customer on every date of the same warehouse."""
    with warehouse.open_warehouse(project.settings) as conn:
        derived = conn.execute("select * from core.customer_movements order by all").fetchall()
        conn.execute("delete from core.movement_inputs")  # re-derive the whole history
        movements.derive_movements(conn, project.settings, every_customer=True)
        every = conn.execute("select * from core.customer_movements order by all").fetchall()
    return derived, every


@pytest.mark.parametrize(
    ("seed", "grace_days"),
    [
        (1021, None),  # 44 quarantined rows (carried forward), duplicated ids, gaps
        (2004, 3),  # grace days end between two snapshots without a changed row
        (3018, 0),  # past due never pays
        (3, 0),  # a quarantined row, then missing from the next file
    ],
)
def test_comparing_only_changed_customers_gives_the_log_of_comparing_every_customer(
    tmp_path: Path, instance: dg.DagsterInstance, seed: int, grace_days: int | None
) -> None:
    project = Project(tmp_path, instance, quarantine_threshold=1.0, past_due_grace_days=grace_days)
    history = random_history(seed)
    _write(project, history)
    _run_in_pieces_with_a_correction(project, history)

    derived, every = _movement_logs(project)

    assert derived == every
    kinds = {row[4] for row in derived}
    assert {"opening", "churn", "expansion", "contraction"} <= kinds, kinds


def test_a_subscription_whose_versions_name_two_customers_moves_between_them(
    project: Project,
) -> None:
    # Day 3 loaded first names customer A; days 1-2, loaded after it, name B. Warehouse mode
    # keeps day 3's decision (metric decision 27), so the subscription's versions name B, then
    # A: B loses it on day 3 although only A's version starts there.
    project.write_csv("2025-01-01", [sub("s1", "B"), sub("s2", "C")])
    project.write_csv("2025-01-02", [sub("s1", "B"), sub("s2", "C")])
    project.write_csv("2025-01-03", [sub("s1", "A"), sub("s2", "C")])
    project.run("2025-01-03", "2025-01-03")
    project.run("2025-01-01", "2025-01-02")

    assert project.query(
        "select changed_on, customer_id from raw.subscription_changes "
        "where subscription_id = 's1' order by changed_on"
    ) == [(date(2025, 1, 1), "B"), (date(2025, 1, 3), "A")]
    assert [(m["customer_id"], m["movement"], m["movement_date"]) for m in project.movements()] == [
        ("A", "new", date(2025, 1, 3)),
        ("B", "churn", date(2025, 1, 3)),
    ]
    derived, every = _movement_logs(project)
    assert derived == every


def test_a_subscription_quarantined_then_missing_ends_with_its_customers_churn(
    project: Project,
) -> None:
    # Day 2's row is quarantined: it keeps day 1's state, stored as an unlisted version. Missing
    # on day 3, it ends there without a version of its own (it was already unlisted), so the
    # customer whose state it carried must still be compared on day 3 (found by a review).
    project.settings = replace(project.settings, quarantine_threshold=1.0)
    project.write_csv("2025-01-01", [sub("a", "A"), sub("z", "Z")])
    project.write_csv("2025-01-02", [sub("a", "A", mrr="abc"), sub("z", "Z")])
    project.write_csv("2025-01-03", [sub("z", "Z")])
    project.write_csv("2025-01-04", [sub("z", "Z")])
    project.run("2025-01-01", "2025-01-04")

    assert [(m["customer_id"], m["movement"], m["movement_date"]) for m in project.movements()] == [
        ("A", "churn", date(2025, 1, 3))
    ]
    derived, every = _movement_logs(project)
    assert derived == every


def test_a_chunk_stores_the_changes_of_its_runs_of_equal_rows(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    # One chunk finds its changes from runs of rows of one text on consecutive dates; these
    # subscriptions break runs every way there is, and a night after them starts from what the
    # chunk stored.
    mrr_of = {"a": "10.00", "b": "20.00", "c": "11.00", "f": "10", "x": "ten"}  # ".": absent
    days_of = {
        "steady": "aaaaaac",
        "aba": "abaabbb",  # a text that comes back after another
        "gap": "aa.aaaa",
        "late": "..aaa..",
        "leaves": "aaaa...",
        "bad": "aaxxaaa",  # quarantined on days 3 and 4
        "format": "fffaaaa",  # "10" then "10.00": other texts, the same row
    }
    history = {}
    for i in range(7):
        rows = [
            sub(subscription_id, f"c_{subscription_id}", mrr=mrr_of[days[i]])
            for subscription_id, days in days_of.items()
            if days[i] != "."
        ]
        rows.append(sub(" sp " if i < 3 else "sp", "c_sp"))  # spaces around an id are trimmed
        rows += [sub("dup", "c_dup")] * (2 if i == 2 else 1)  # listed twice on day 3
        # listed twice on day 1, absent on day 2: its text's clean rows are days 3-7 only
        rows += [sub("twice", "c_twice")] * {0: 2, 1: 0}.get(i, 1)
        history[date(2025, 1, 1) + timedelta(days=i)] = rows
    projects = {}
    for storage in ("warehouse", "lake"):
        (tmp_path / storage).mkdir()
        project = Project(tmp_path / storage, instance, quarantine_threshold=1.0)
        project.settings = replace(
            project.settings, storage=storage, lake_path=str(tmp_path / storage / "lake")
        )
        _write(project, history)
        project.run("2025-01-01", "2025-01-06")
        project.run("2025-01-07", "2025-01-07")
        projects[storage] = project

    changes = projects["warehouse"].query(
        "select subscription_id, day(changed_on), is_listed, mrr_cents "
        "from raw.subscription_changes order by all"
    )
    assert changes == [
        ("aba", 1, True, 1000), ("aba", 2, True, 2000), ("aba", 3, True, 1000),
        ("aba", 5, True, 2000),
        ("bad", 1, True, 1000), ("bad", 3, False, None), ("bad", 5, True, 1000),
        ("dup", 1, True, 1000), ("dup", 3, False, None), ("dup", 4, True, 1000),
        ("format", 1, True, 1000),
        ("gap", 1, True, 1000), ("gap", 3, False, None), ("gap", 4, True, 1000),
        ("late", 3, True, 1000), ("late", 6, False, None),
        ("leaves", 1, True, 1000), ("leaves", 5, False, None),
        ("sp", 1, True, 1000),
        ("steady", 1, True, 1000), ("steady", 7, True, 1100),
        ("twice", 3, True, 1000),
    ]  # fmt: skip
    assert _snapshot_rows(projects["warehouse"]) == _snapshot_rows(projects["lake"])


def test_windows_loaded_in_any_order_and_again_store_what_one_run_stores(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    history = random_history(1021)  # 44 quarantined rows, duplicated ids, gaps
    for folder in ("one", "pieces", "lake"):
        (tmp_path / folder).mkdir()
    in_one_run = Project(tmp_path / "one", instance, quarantine_threshold=1.0)
    in_pieces = Project(tmp_path / "pieces", instance, quarantine_threshold=1.0)
    loaded = _write(in_pieces, history)
    first, last = loaded[0], loaded[-1]
    _run_in_pieces_with_a_correction(in_pieces, history)

    _write(in_one_run, history)
    in_one_run.run(first, last)

    assert _snapshot_rows(in_pieces) == _snapshot_rows(in_one_run)
    assert _changes(in_pieces) == _changes(in_one_run)
    rows = _snapshot_rows(in_one_run)
    assert 3 * len(_changes(in_one_run)) < len(rows)  # and it stores a fraction of them
    # every row of every file date is there, as storing every row gave (lake mode still does)
    in_lake = Project(tmp_path / "lake", instance, quarantine_threshold=1.0)
    in_lake.settings = replace(
        in_lake.settings, storage="lake", lake_path=str(tmp_path / "lake" / "lake")
    )
    _write(in_lake, history)
    in_lake.run(first, last)
    assert _snapshot_rows(in_lake) == rows


def test_a_subscription_that_leaves_and_returns_has_a_version_for_each_stay(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    project = Project(tmp_path, instance, quarantine_threshold=1.0)
    project.write_csv("2025-01-01", [sub("a", "c1"), sub("b", "c2")])
    project.write_csv("2025-01-02", [sub("a", "c1"), sub("b", "c2")])
    project.write_csv("2025-01-03", [sub("b", "c2")])
    project.write_csv("2025-01-05", [sub("a", "c1"), sub("b", "c2", mrr="oops")])  # a gap before
    project.write_csv("2025-01-06", [sub("a", "c1"), sub("b", "c2")])
    project.run("2025-01-01", "2025-01-06")
    assert project.query(
        "select changed_on, subscription_id, is_listed, valid_until, customer_id, mrr_cents "
        "from raw.subscription_changes order by subscription_id, changed_on"
    ) == [
        (date(2025, 1, 1), "a", True, date(2025, 1, 3), "c1", 1000),
        (date(2025, 1, 3), "a", False, date(2025, 1, 5), "c1", None),
        (date(2025, 1, 5), "a", True, date(9999, 12, 31), "c1", 1000),
        (date(2025, 1, 1), "b", True, date(2025, 1, 5), "c2", 1000),
        (date(2025, 1, 5), "b", False, date(2025, 1, 6), "c2", None),  # quarantined: not listed
        (date(2025, 1, 6), "b", True, date(9999, 12, 31), "c2", 1000),
    ]
    assert project.query(
        "select snapshot_date, list(subscription_id order by subscription_id) "
        "from raw.subscription_snapshots group by all order by all"
    ) == [
        (date(2025, 1, 1), ["a", "b"]),
        (date(2025, 1, 2), ["a", "b"]),
        (date(2025, 1, 3), ["b"]),
        (date(2025, 1, 5), ["a"]),
        (date(2025, 1, 6), ["a", "b"]),
    ]


def test_a_warehouse_that_stored_every_row_is_converted_once(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    project = Project(tmp_path, instance, quarantine_threshold=1.0)
    history = random_history(10)
    loaded = _write(project, history)
    project.run(loaded[0], loaded[-1])
    stored = project.query("select * from raw.subscription_changes order by all")
    rows = project.query("select * from raw.subscription_snapshots order by all")
    with duckdb.connect(str(project.settings.warehouse_path)) as conn:  # as before change storage
        conn.execute("create table raw.every_row as select * from raw.subscription_snapshots")
        conn.execute("drop view raw.subscription_snapshots")
        conn.execute("drop table raw.subscription_changes")
        conn.execute("alter table raw.every_row rename to subscription_snapshots")

    with warehouse.open_warehouse(project.settings) as conn:
        converted = conn.execute("select * from raw.subscription_changes order by all").fetchall()
        assert converted == stored  # provenance included: each version's first row
        assert (
            conn.execute("select * from raw.subscription_snapshots order by all").fetchall() == rows
        )
        kinds = conn.execute(
            "select table_type from information_schema.tables "
            "where table_schema = 'raw' and table_name = 'subscription_snapshots'"
        ).fetchall()
        assert kinds == [("VIEW",)]
    project.run(loaded[-1], loaded[-1])  # and the pipeline goes on from it
    assert project.query("select * from raw.subscription_changes order by all") == stored
