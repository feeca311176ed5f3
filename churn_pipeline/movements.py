"""Deriving customer movements (METRICS.md §2–§3), incrementally.

The movement log is re-derived from the earliest snapshot date whose delivery changed
since it was last derived (`core.movement_inputs`): a new night re-derives one day from
snapshot D, the snapshot before it and the compact `core.customer_first_activation`
lookup; a corrected or late old day re-derives everything after it (reactivations, past-due
spells and reasons can all depend on it). A backfill is the same SQL over a long window,
one set-based pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
WINDOW_TEMP_VIEWS = ("window_subscription_states",)
WINDOW_TEMP_TABLES = tuple(
    name for step in WINDOW_STEPS if (name := step.split("/")[1]) not in WINDOW_TEMP_VIEWS
)
WRITE_STEPS = (
    "core/delete_customer_movements_window",
    "core/insert_customer_movements",
    "core/delete_customer_first_activation",
    "core/insert_customer_first_activation",
    "core/delete_movement_inputs",
    "core/insert_movement_inputs",
)


@dataclass(frozen=True)
class MovementSummary:
    recomputed_from: date | None
    snapshot_pairs: int = 0
    movements: dict[str, int] = field(default_factory=dict)


def settings_key(settings: Settings) -> str:
    """The settings that change movements; a change re-derives the whole log."""
    return f"past_due_grace_days={settings.past_due_grace_days}"


def derive_movements(conn: duckdb.DuckDBPyConnection, settings: Settings) -> MovementSummary:
    key = settings_key(settings)
    start_row = warehouse.run(
        conn, settings, "core/recompute_from", {"settings_key": key}
    ).fetchone()
    window_start = start_row[0] if start_row else None
    if window_start is None:
        return MovementSummary(recomputed_from=None)
    params = {
        "window_start": window_start,
        "window_end": date.max,
        "grace_days": settings.past_due_grace_days,
        "settings_key": key,
    }
    for step in WINDOW_STEPS:
        warehouse.run(conn, settings, step, params)
    with warehouse.transaction(conn):
        for step in WRITE_STEPS:
            warehouse.run(conn, settings, step, params)
    pairs_row = conn.execute("select count(*) from window_snapshot_pairs").fetchone()
    counts = dict(
        conn.execute("select movement, count(*) from window_movements group by movement").fetchall()
    )
    for view in WINDOW_TEMP_VIEWS:  # before the tables it reads
        conn.execute(f"drop view if exists {view}")
    for table in WINDOW_TEMP_TABLES:
        conn.execute(f"drop table if exists {table}")
    return MovementSummary(
        window_start, int(pairs_row[0]) if pairs_row else 0, {k: int(v) for k, v in counts.items()}
    )
