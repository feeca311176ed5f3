"""The SQL-built tables of the `warehouse_tables` step, built side by side (marts.build_tables)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from churn_pipeline import warehouse
from churn_pipeline.assets.marts import SqlTable, build_tables
from churn_pipeline.settings import PROJECT_ROOT, Settings


def table(name: str, sql_dir: Path, select: str, deps: tuple[str, ...] = ()) -> SqlTable:
    (sql_dir / "marts" / f"{name}.sql").write_text(
        f"create or replace table core.{name} as {select}", encoding="utf-8"
    )
    return SqlTable(
        dg.AssetKey(["core", name]),
        f"marts/{name}",
        [dg.AssetKey(["core", dep]) for dep in deps],
        "core",
        name,
        f"select * from core.{name}",
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    sql_dir = tmp_path / "sql"
    shutil.copytree(PROJECT_ROOT / "sql", sql_dir)
    base = Settings.from_env(
        {"CHURN_LANDING_DIR": str(tmp_path), "CHURN_WAREHOUSE": str(tmp_path / "w.duckdb")}
    )
    return replace(base, sql_dir=sql_dir, timezone="America/New_York", duckdb_threads=2)


def built_tables(conn: duckdb.DuckDBPyConnection) -> set[str]:
    rows = conn.execute("select table_name from duckdb_tables() where schema_name = 'core'")
    return {name for (name,) in rows.fetchall()}


def test_a_failed_build_is_raised_after_the_running_ones_and_nothing_built_on_it_starts(
    settings: Settings,
) -> None:
    """`fails` fails as it binds, while `succeeds` runs for a while beside it: `succeeds` is
    yielded, and neither the table reading `fails` nor the one waiting for `succeeds` starts."""
    tables = [
        table("fails", settings.sql_dir, "select * from core.no_such_table"),
        table("succeeds", settings.sql_dir, "select sum(range) as x from range(200000000)"),
        table("reads_the_failed_one", settings.sql_dir, "select * from core.fails", ("fails",)),
        table("waits_for_the_other", settings.sql_dir, "select 2 as x", ("succeeds",)),
    ]
    yielded = []
    with warehouse.open_warehouse(settings) as conn:
        with pytest.raises(duckdb.CatalogException, match="no_such_table"):
            for result in build_tables(conn, settings, tables):
                yielded.append(result.asset_key)
        built = built_tables(conn)
    assert yielded == [dg.AssetKey(["core", "succeeds"])]
    assert built & {table.key.path[1] for table in tables} == {"succeeds"}


def test_each_build_connection_reads_time_in_the_business_time_zone(settings: Settings) -> None:
    """Each table is built on a connection of its own, which does not inherit the session's
    TimeZone: warehouse.cursor sets it."""
    select = (
        "select current_setting('TimeZone') as zone, "
        "cast(timestamptz '2025-01-01 03:00:00+00' as date) as day"
    )
    tables = [table(f"zone_{n}", settings.sql_dir, select) for n in range(4)]
    with warehouse.open_warehouse(settings) as conn:
        results = list(build_tables(conn, settings, tables))
        seen = {
            conn.execute(f"select zone, cast(day as varchar) from core.zone_{n}").fetchone()
            for n in range(4)
        }
    assert len(results) == 4
    assert seen == {("America/New_York", "2024-12-31")}


def test_tables_that_more_tables_are_built_on_start_first(settings: Settings) -> None:
    """Listed last, the start of the longest chain (`first` → `second` → `third`) is built
    first: one at a time, `second` comes before `alone`, which no table reads."""
    tables = [
        table("alone", settings.sql_dir, "select 0 as x"),
        table("third", settings.sql_dir, "select * from core.second", ("second",)),
        table("second", settings.sql_dir, "select * from core.first", ("first",)),
        table("first", settings.sql_dir, "select 1 as x"),
    ]
    one_at_a_time = replace(settings, duckdb_threads=1)
    with warehouse.open_warehouse(one_at_a_time) as conn:
        order = [result.asset_key.path[1] for result in build_tables(conn, one_at_a_time, tables)]
    assert order == ["first", "second", "alone", "third"]
