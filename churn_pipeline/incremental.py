"""Incremental rebuilds of the history-wide tables that dominate a nightly run.

A table built incrementally recomputes only the rows that can depend on a day from
`rebuild_from` on, and copies the others from its current version. `rebuild_from` is the
earliest day whose movements (or first activations) differ from those the table was last built
from, or the day after the earlier latest snapshot when that moved (marts/mart_rebuild_from).
Anything else that could change every row (the SQL, the DuckDB version, the first snapshot, a
missing record or table) rebuilds the whole table. The build and its record are written in one
transaction, so a killed run leaves the previous table and record.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import duckdb

from churn_pipeline import warehouse
from churn_pipeline.settings import Settings

EVERYTHING = date.min  # as `rebuild_from`: every row is recomputed
DEFINITION_SOURCES = ("schema", "marts")  # the SQL folders the incremental tables run


@dataclass(frozen=True)
class RebuildPlan:
    rebuild_from: date | None  # None: nothing changed since the last build
    incremental: bool  # False: every row recomputed, nothing kept

    @property
    def up_to_date(self) -> bool:
        return self.rebuild_from is None

    def describe(self) -> str:
        if self.up_to_date:
            return "unchanged since the last build"
        if not self.incremental:
            return "rebuilt in full"
        return f"rows depending on {self.rebuild_from.isoformat()} or later recomputed"


FULL_REBUILD = RebuildPlan(EVERYTHING, incremental=False)


@cache
def _source_fingerprint(sql_dir: Path) -> str:
    from churn_pipeline.assets import marts  # the order and the statements of each build

    digest = hashlib.sha256()
    sources = [path for folder in DEFINITION_SOURCES for path in (sql_dir / folder).rglob("*.sql")]
    for path in [*sorted(sources), Path(marts.__file__), Path(__file__)]:
        content = path.read_bytes()
        digest.update(f"{path.parent.name}/{path.name}:{len(content)}:".encode())
        digest.update(content)
    return digest.hexdigest()


def definition_fingerprint(settings: Settings) -> str:
    """Changes whenever a build could compute different rows from the same movements."""
    return f"{_source_fingerprint(settings.sql_dir)[:32]}/duckdb-{duckdb.__version__}"


def _table_exists(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    row = conn.execute(
        "select count(*) from duckdb_tables() where database_name = current_database() "
        "and schema_name = $schema and table_name = $name",
        {"schema": schema, "name": name},
    ).fetchone()
    return bool(row and row[0])


def plan_rebuild(conn: duckdb.DuckDBPyConnection, settings: Settings, table: str) -> RebuildPlan:
    row = warehouse.run(
        conn,
        settings,
        "marts/mart_rebuild_from",
        {"table_name": table, "definition_fingerprint": definition_fingerprint(settings)},
    ).fetchone()
    assert row is not None  # one row from the cross join of two single-row relations
    rebuild_everything, rebuild_from = row
    if rebuild_everything or not _table_exists(conn, table):
        return FULL_REBUILD
    if rebuild_from is None:
        return RebuildPlan(None, incremental=True)
    return RebuildPlan(rebuild_from, incremental=True)


def is_current(conn: duckdb.DuckDBPyConnection, settings: Settings, table: str) -> bool:
    """Whether the table was last built from the current movement log and snapshot range."""
    return plan_rebuild(conn, settings, table).up_to_date


def forget_build(conn: duckdb.DuckDBPyConnection, settings: Settings, table: str) -> None:
    warehouse.run(conn, settings, "marts/delete_mart_build_inputs", {"table_name": table})


def record_build(conn: duckdb.DuckDBPyConnection, settings: Settings, table: str) -> None:
    params = {"table_name": table, "definition_fingerprint": definition_fingerprint(settings)}
    warehouse.run(conn, settings, "marts/delete_mart_build_inputs", params)
    warehouse.run(conn, settings, "marts/insert_mart_build_inputs", params)
