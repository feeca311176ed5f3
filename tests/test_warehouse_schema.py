"""Applying the warehouse's definitions (warehouse.ensure_schema) once per version of them."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import duckdb

from churn_pipeline import warehouse
from churn_pipeline.settings import PROJECT_ROOT, Settings


def _settings(tmp_path: Path, sql_dir: Path) -> Settings:
    base = Settings.from_env(
        {"CHURN_LANDING_DIR": str(tmp_path), "CHURN_WAREHOUSE": str(tmp_path / "w.duckdb")}
    )
    return replace(base, sql_dir=sql_dir)


def _has_view(settings: Settings, name: str) -> bool:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
        row = conn.execute(
            "select count(*) from duckdb_views() where schema_name = 'core' and view_name = $name",
            {"name": name},
        ).fetchone()
    return bool(row and row[0])


def _applied(settings: Settings) -> list[str]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
        rows = conn.execute("select fingerprint from core.schema_fingerprint").fetchall()
    return [row[0] for row in rows]


def test_the_definitions_are_applied_again_only_when_they_change(tmp_path: Path) -> None:
    """A connection skips applying definitions the warehouse records as applied; deleting the
    record, or opening with other definitions (here: a comment added to one file), applies
    them all again. A dropped view shows which connections applied them."""
    sql_dir = tmp_path / "sql"
    shutil.copytree(PROJECT_ROOT / "sql", sql_dir)
    settings = _settings(tmp_path, sql_dir)

    with warehouse.open_warehouse(settings):
        pass
    fingerprint = warehouse._schema_fingerprint(sql_dir)
    assert _applied(settings) == [fingerprint]

    with duckdb.connect(str(settings.warehouse_path)) as conn:
        conn.execute("drop view core.customers")
    with warehouse.open_warehouse(settings):
        pass
    assert not _has_view(settings, "customers")  # same definitions: not applied again

    with duckdb.connect(str(settings.warehouse_path)) as conn:
        conn.execute("delete from core.schema_fingerprint")
    with warehouse.open_warehouse(settings):
        pass
    assert _has_view(settings, "customers") and _applied(settings) == [fingerprint]

    changed_dir = tmp_path / "sql_changed"
    shutil.copytree(sql_dir, changed_dir)
    view_file = changed_dir / "schema" / "view_customers.sql"
    view_file.write_text(view_file.read_text(encoding="utf-8") + "-- changed\n", encoding="utf-8")
    changed = replace(settings, sql_dir=changed_dir)
    with duckdb.connect(str(settings.warehouse_path)) as conn:
        conn.execute("drop view core.customers")
    with warehouse.open_warehouse(changed):
        pass
    changed_fingerprint = warehouse._schema_fingerprint(changed_dir)
    assert changed_fingerprint != fingerprint
    assert _has_view(settings, "customers") and _applied(settings) == [changed_fingerprint]


def test_lake_mode_applies_its_definitions_on_every_connection(tmp_path: Path) -> None:
    """Lake mode's raw views follow the lake's files, so they are never skipped."""
    settings = replace(
        _settings(tmp_path, PROJECT_ROOT / "sql"),
        storage="lake",
        lake_path=str(tmp_path / "lake"),
    )
    with warehouse.open_warehouse(settings):
        pass
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
        tables = conn.execute(
            "select count(*) from duckdb_tables() where table_name = 'schema_fingerprint'"
        ).fetchone()
    assert tables == (0,)
