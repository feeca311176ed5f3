"""Read-only queries of the published copy (never the warehouse the writer holds)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from churn_pipeline.publish import PUBLISHED_DATABASE
from churn_pipeline.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

ALLOWED_STATEMENTS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


class QueryError(ValueError):
    """The query cannot run; the message says why in one line."""


def published_database(settings: Settings) -> Path:
    path = settings.published_dir / PUBLISHED_DATABASE
    if not path.is_file():
        raise QueryError(
            f"no published outputs at {path} yet: run `churn-pipeline run` (or `make run`) first"
        )
    return path


def open_published(settings: Settings) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(":memory:")
    conn.execute(
        "attach $path as reporting (read_only)", {"path": str(published_database(settings))}
    )
    conn.execute("use reporting")
    # no file access from user SQL (COPY ... TO, read_csv of other files), and no way back
    conn.execute("set enable_external_access = false")
    conn.execute("set lock_configuration = true")
    return conn


def run_query(settings: Settings, sql: str) -> pd.DataFrame:
    conn = open_published(settings)
    try:
        try:
            statements = conn.extract_statements(sql)
        except duckdb.Error as error:
            raise QueryError(f"SQL does not parse: {_one_line(error)}") from None
        if len(statements) != 1:
            raise QueryError(f"give exactly one statement (got {len(statements)})")
        if statements[0].type not in ALLOWED_STATEMENTS:
            raise QueryError(
                f"only read-only queries are allowed (SELECT, WITH, DESCRIBE, SHOW, EXPLAIN); "
                f"got a {statements[0].type.name} statement"
            )
        try:
            return conn.execute(sql).df()
        except duckdb.CatalogException as error:
            raise QueryError(
                f"{_one_line(error)} (tables: {', '.join(list_tables(conn))})"
            ) from None
        except duckdb.Error as error:
            raise QueryError(_one_line(error)) from None
    finally:
        conn.close()


def list_tables(conn: duckdb.DuckDBPyConnection) -> list[str]:
    rows = conn.execute(
        "select database_name || '.' || table_name from duckdb_tables() "
        "where database_name = 'reporting' order by 1"
    ).fetchall()
    return [row[0] for row in rows]


def publication_age(settings: Settings) -> str:
    conn = open_published(settings)
    try:
        row = conn.execute("select published_at from reporting.publication").fetchone()
    except duckdb.CatalogException:
        row = None
    finally:
        conn.close()
    if not row:
        return "no successful run has published tables yet"
    age = datetime.now(UTC).replace(tzinfo=None) - row[0]
    minutes = int(age.total_seconds() // 60)
    return f"published {row[0]:%Y-%m-%d %H:%M} UTC ({minutes // 60}h {minutes % 60}m ago)"


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())
