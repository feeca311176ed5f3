"""What every asset shares: the warehouse pool, time-window helpers, metadata previews."""

from datetime import date, timedelta

import dagster as dg
import duckdb

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
    frame = conn.execute(query, params or {}).df()
    return dg.MetadataValue.md(frame.to_markdown(index=False) if not frame.empty else "_(no rows)_")


def table_row_count(conn: duckdb.DuckDBPyConnection, table: str) -> int:
    row = conn.execute(f"select count(*) from {table}").fetchone()
    return int(row[0]) if row else 0
