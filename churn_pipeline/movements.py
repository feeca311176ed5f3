"""Deriving customer movements for a window of snapshot dates (METRICS.md §2–§3).

The work for snapshot date D reads only snapshot D, the snapshot before it and the compact
`core.customer_first_activation` lookup, so a nightly run costs one day, and a backfill is
the same SQL over a longer window (one set-based pass).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from churn_pipeline import warehouse
from churn_pipeline.settings import Settings

WINDOW_STEPS = (
    "core/window_snapshot_pairs",
    "core/window_snapshot_dates",
    "core/past_due_spells",
    "core/window_subscription_states",
    "core/window_customer_states",
    "core/window_active_customers",
    "core/window_movements",
    "core/window_churn_details",
)
WINDOW_TEMP_TABLES = tuple(step.split("/")[1] for step in WINDOW_STEPS)


@dataclass(frozen=True)
class MovementSummary:
    snapshot_pairs: int
    movements: dict[str, int]


def derive_movements(
    conn: duckdb.DuckDBPyConnection, settings: Settings, window_start: date, window_end: date
) -> MovementSummary:
    params = {
        "window_start": window_start,
        "window_end": window_end,
        "grace_days": settings.past_due_grace_days,
    }
    for step in WINDOW_STEPS:
        warehouse.run(conn, settings, step, params)
    window = {"window_start": window_start, "window_end": window_end}
    with warehouse.transaction(conn):
        warehouse.run(conn, settings, "core/delete_customer_movements_window", window)
        warehouse.run(conn, settings, "core/insert_customer_movements")
        warehouse.run(conn, settings, "core/delete_customer_first_activation")
        warehouse.run(conn, settings, "core/insert_customer_first_activation")
    pairs_row = conn.execute("select count(*) from window_snapshot_pairs").fetchone()
    counts = dict(conn.execute("select movement, count(*) from window_movements group by movement").fetchall())
    for table in WINDOW_TEMP_TABLES:
        conn.execute(f"drop table if exists {table}")
    return MovementSummary(int(pairs_row[0]) if pairs_row else 0, {k: int(v) for k, v in counts.items()})

