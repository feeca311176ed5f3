"""Incrementally rebuilt tables equal full rebuilds after every kind of change a night brings."""

from __future__ import annotations

import csv
import re
import shutil
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from churn_pipeline import incremental, warehouse
from churn_pipeline.assets.marts import SqlTable, build_sql_tables
from churn_pipeline.demo_data import DemoSpec, write_demo_snapshots
from churn_pipeline.settings import Settings
from tests.conftest import Project

SPEC = DemoSpec(customers=300, days=200, start=date(2024, 10, 1), seed=11)
BACKFILL_END = SPEC.start + timedelta(days=149)
INCREMENTAL_TABLES = [table for table in build_sql_tables() if table.incremental is not None]


def rebuild_note(project: Project, table: SqlTable) -> str:
    event = project.instance.get_latest_materialization_event(table.key)
    assert event is not None and event.asset_materialization is not None
    return str(event.asset_materialization.metadata["rebuild"].value)


def differences_from_a_full_rebuild(project: Project, scratch: Path) -> dict[str, int]:
    """Rebuild every SQL table in full, in order, on a copy of the warehouse and count the rows
    of the incremental ones that differ (both ways, duplicates counted) from the built ones."""
    scratch.mkdir(exist_ok=True)
    copy = scratch / "full_rebuild.duckdb"
    shutil.copy(project.settings.warehouse_path, copy)
    settings = replace(project.settings, warehouse_path=copy)
    counts = {}
    with warehouse.open_warehouse(settings) as conn:
        conn.execute("delete from core.mart_build_inputs")
        for table in build_sql_tables():
            table.build(conn, settings)
        conn.execute(
            "attach $path as built (read_only)", {"path": str(project.settings.warehouse_path)}
        )
        for table in INCREMENTAL_TABLES:  # doubles too, to the last bit (core.order_free_sum)
            full, built = (f"(select * from {t})" for t in (table.table, f"built.{table.table}"))
            row = conn.execute(
                f"select count(*) from (({full} except all {built}) "
                f"union all ({built} except all {full}))"
            ).fetchone()
            assert row is not None
            counts[table.table] = row[0]
    copy.unlink()
    return counts


def restate(path: Path) -> None:
    """A corrected export: every fifth subscription's MRR doubled, every seventh row gone."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    columns = list(rows[0])
    kept = [row for index, row in enumerate(rows) if index % 7 != 3]
    for index, row in enumerate(kept):
        if index % 5 == 0 and row["mrr"]:
            row["mrr"] = f"{float(row['mrr']) * 2:.2f}"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerows(kept)


@pytest.fixture
def demo(tmp_path: Path, instance: dg.DagsterInstance) -> Project:
    (tmp_path / "project").mkdir()
    project = Project(tmp_path / "project", instance)
    write_demo_snapshots(project.landing, SPEC)
    return project


def test_nights_late_days_and_corrections_equal_a_full_rebuild(
    demo: Project, tmp_path: Path
) -> None:
    late_day = BACKFILL_END + timedelta(days=2)
    held_back = demo.landing / f"{late_day.isoformat()}.csv"
    stash = tmp_path / held_back.name
    held_back.rename(stash)
    demo.run(SPEC.start, BACKFILL_END)
    assert {rebuild_note(demo, t) for t in INCREMENTAL_TABLES} == {"rebuilt in full"}
    assert set(differences_from_a_full_rebuild(demo, tmp_path / "scratch").values()) == {0}

    latest = BACKFILL_END
    for night in range(1, 6):
        day = BACKFILL_END + timedelta(days=night)
        if day == late_day:
            continue  # a gap until it arrives
        demo.run(day, day)
        first_new_day = latest + timedelta(days=1)  # the gap day's state is the one after it
        for table in INCREMENTAL_TABLES:
            assert rebuild_note(demo, table) == (
                f"rows depending on {first_new_day.isoformat()} or later recomputed"
            )
        latest = day
        assert set(differences_from_a_full_rebuild(demo, tmp_path / "scratch").values()) == {0}

    stash.rename(held_back)
    demo.run(late_day, late_day)
    for table in INCREMENTAL_TABLES:
        assert rebuild_note(demo, table) == (
            f"rows depending on {late_day.isoformat()} or later recomputed"
        )
    assert set(differences_from_a_full_rebuild(demo, tmp_path / "scratch").values()) == {0}

    corrected = date(2025, 1, 31)  # a month's last day: its end state and back-test change
    restate(demo.landing / f"{corrected.isoformat()}.csv")
    demo.run(corrected, corrected)
    notes = {rebuild_note(demo, table) for table in INCREMENTAL_TABLES}
    assert notes == {f"rows depending on {corrected.isoformat()} or later recomputed"}
    assert set(differences_from_a_full_rebuild(demo, tmp_path / "scratch").values()) == {0}

    demo.run(corrected, corrected)  # nothing changed since
    assert {rebuild_note(demo, t) for t in INCREMENTAL_TABLES} == {"unchanged since the last build"}


def plan(project: Project, table: str) -> incremental.RebuildPlan:
    with warehouse.open_warehouse(project.settings) as conn:
        return incremental.plan_rebuild(conn, project.settings, table)


def change(project: Project, statement: str) -> None:
    with duckdb.connect(str(project.settings.warehouse_path)) as conn:
        conn.execute(statement)


def test_what_starts_a_rebuild_where(demo: Project) -> None:
    last_day = SPEC.start + timedelta(days=40)
    demo.run(SPEC.start, last_day)
    table = "core.customer_months"
    assert plan(demo, table) == incremental.RebuildPlan(None, incremental=True)

    change(demo, "update core.mart_build_inputs set latest_snapshot_date = date '2024-11-02'")
    assert plan(demo, table) == incremental.RebuildPlan(date(2024, 11, 3), incremental=True)
    change(demo, f"update core.mart_build_inputs set latest_snapshot_date = date '{last_day}'")
    assert plan(demo, table).up_to_date

    moved_on = demo.query(
        "select min(movement_date) from core.customer_movements where movement_date > '2024-10-24'"
    )[0][0]
    change(demo, f"delete from core.customer_movements where movement_date = '{moved_on}'")
    assert plan(demo, table) == incremental.RebuildPlan(moved_on, incremental=True)
    first_activation = demo.query(
        "select customer_id, first_activation_date from core.customer_first_activation "
        "where first_activation_date between date '2024-10-10' and date '2024-10-20' limit 1"
    )[0]
    change(
        demo,
        "update core.customer_first_activation set first_activation_date = "
        f"first_activation_date - 2 where customer_id = '{first_activation[0]}'",
    )
    assert plan(demo, table) == incremental.RebuildPlan(
        first_activation[1] - timedelta(days=2), incremental=True
    )

    everything = incremental.RebuildPlan(incremental.EVERYTHING, incremental=False)
    for cause in (
        "update core.mart_build_inputs set definition_fingerprint = 'older SQL'",
        "update core.mart_build_inputs set first_snapshot_date = date '2024-09-30'",
        "update core.mart_build_inputs set latest_snapshot_date = date '2024-11-02' "
        "where movement_date = date '2024-10-05'",  # a torn record
        "delete from core.mart_build_inputs where table_name = 'core.customer_months'",
        "drop table core.customer_months",
    ):
        demo.run(SPEC.start, SPEC.start)  # rebuilt and recorded again
        assert plan(demo, table).up_to_date, cause
        change(demo, cause)
        assert plan(demo, table) == everything, cause


def test_a_table_built_from_a_stale_upstream_is_rebuilt_in_full_until_it_is_current(
    demo: Project, tmp_path: Path
) -> None:
    """Any subset of the SQL tables can be materialized: churn_by_period built while
    daily_customer_totals is behind the movement log is wrong, so it must not be recorded as
    built from the current movements, or later builds would keep its wrong rows."""
    demo.run(SPEC.start, SPEC.start + timedelta(days=60))
    tables = {table.table: table for table in build_sql_tables()}
    latest_day = SPEC.start + timedelta(days=60)
    with warehouse.open_warehouse(demo.settings) as conn:  # movements change, totals not rebuilt
        conn.execute(
            "delete from core.customer_movements where movement_date >= $day",
            {"day": latest_day - timedelta(days=5)},
        )
        result = tables["reporting.churn_by_period"].build(conn, demo.settings)
        assert str(result.metadata["rebuild"]) == (
            "rebuilt in full, not recorded: core.daily_customer_totals not built from the "
            "current movements"
        )
        recorded = conn.execute(
            "select count(*) from core.mart_build_inputs where table_name = 'reporting.churn_by_period'"
        ).fetchone()
        assert recorded == (0,)  # its earlier record is gone too: the next build starts over
        forecasts = tables["core.churn_forecasts"].build(conn, demo.settings)
        assert "not recorded: core.customer_months, reporting.churn_by_period" in str(
            forecasts.metadata["rebuild"]
        )
        for table in tables.values():  # the whole step, in order, heals everything
            table.build(conn, demo.settings)
        for name in ("reporting.churn_by_period", "core.churn_forecasts"):
            assert incremental.is_current(conn, demo.settings, name)
    assert set(differences_from_a_full_rebuild(demo, tmp_path / "scratch").values()) == {0}


def test_every_built_table_an_incremental_one_reads_is_declared_and_recorded() -> None:
    """A built table read by an incremental one but missing from its `reads` would let it be
    recorded as current while built from a stale copy; one without a record of its own would
    make the reader rebuild in full on every run."""
    settings = Settings.from_env({})
    tables = {table.table: table for table in build_sql_tables()}
    for table in INCREMENTAL_TABLES:
        assert table.incremental is not None
        statements = (table.incremental.recompute, *table.incremental.merge, *table.steps)
        text = "\n".join(warehouse.sql(settings, name) for name in statements)
        read = {name for name in tables if name != table.table and re.search(rf"\b{name}\b", text)}
        assert read == set(table.incremental.reads), table.table
        for name in read:
            assert tables[name].incremental is not None or tables[name].record_build, name
