"""What every asset shares: the warehouse pool, time-window helpers, metadata previews."""

from datetime import date, timedelta

import dagster as dg
import duckdb
from tabulate import tabulate

WAREHOUSE_POOL = "churn_warehouse"  # one writer at a time on the DuckDB file
ASSET_BACKFILL_POLICY = dg.BackfillPolicy.single_run()


def window_dates(context: dg.AssetExecutionContext) -> tuple[date, date]:
    """The run's snapshot dates, both inclusive (a ranged run covers many days)."""
    window = context.partition_time_window
    first = window.start.date()
    last = (window.end - timedelta(days=1)).date()
    return first, last


def days_between(first: date, last: date) -> list[date]:
    """Every date from first to last, both inclusive."""
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def markdown_preview(
    conn: duckdb.DuckDBPyConnection, query: str, params: dict | None = None
) -> dg.MetadataValue:
    cursor = conn.execute(query, params or {})
    rows = cursor.fetchall()
    if not rows:
        return dg.MetadataValue.md("_(no rows)_")
    headers = [column[0] for column in cursor.description]
    return dg.MetadataValue.md(tabulate(rows, headers=headers, tablefmt="pipe"))


def table_row_count(conn: duckdb.DuckDBPyConnection, table: str) -> int:
    row = conn.execute(f"select count(*) from {table}").fetchone()
    return int(row[0]) if row else 0
