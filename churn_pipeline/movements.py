"""Deriving customer movements (METRICS.md §2–§3), incrementally.

The movement log is re-derived from the earliest snapshot date whose delivery changed
since it was last derived (`core.movement_inputs`): a new night re-derives one day from
snapshot D, the snapshot before it and the compact `core.customer_first_activation`
lookup; a corrected or late old day re-derives everything after it (reactivations, past-due
spells and reasons can all depend on it). A backfill is the same SQL over consecutive
windows, each one set-based pass: of WINDOW_DAYS days when every customer is compared (lake
mode), else of as many days as hold WINDOW_CHANGE_ROWS stored changes (at least WINDOW_DAYS).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Literal

import duckdb

from churn_pipeline import warehouse
from churn_pipeline.settings import Settings

# Calendar days derived per committed window (at least); see derive_movements.
WINDOW_DAYS = 92
# Warehouse mode: stored changes per window, beyond its WINDOW_DAYS. At the bench size (370,000
# changes in 730 days) one window took 1.8-2.3 s and 300 MB where 92-day ones took 3.0-3.7 s.
WINDOW_CHANGE_ROWS = 1_000_000


@dataclass(frozen=True)
class WindowStep:
    """One statement of a window, and the temp object it leaves to be dropped afterwards."""

    sql: str
    creates: Literal["table", "view", "variable"] = "table"

    @property
    def name(self) -> str:
        return self.sql.split("/")[1]


def window_steps(every_customer: bool) -> tuple[WindowStep, ...]:
    """With `every_customer`, every customer's state on every date of the window is computed
    and compared (lake mode: the lake stores every row, not changes; sql/lake/). Otherwise only
    the customers whose subscriptions changed between two snapshots are
    (core/window_compared_customers.sql): warehouse mode, where the changes are stored. Both
    give the same log; tests/test_subscription_changes.py holds them to it."""
    shared_before = (
        WindowStep("core/window_snapshot_pairs"),
        WindowStep("core/window_snapshot_dates"),
        WindowStep("core/window_snapshot_range", "variable"),
        WindowStep("core/window_snapshot_sequence"),
        WindowStep("core/window_past_due_subscriptions"),
        WindowStep("core/window_carried_forward_rows"),
        WindowStep("core/past_due_spells"),
    )
    shared_after = (
        WindowStep("core/window_active_customers"),
        WindowStep("core/window_movements"),
        WindowStep("core/window_churn_details"),
    )
    if every_customer:
        return (
            *shared_before,
            WindowStep("lake/window_listed_rows", "view"),
            WindowStep("core/window_subscription_state_rows", "view"),
            WindowStep("core/window_subscription_states"),
            WindowStep("core/window_customer_states"),
            WindowStep("lake/window_compared_customers"),
            *shared_after,
        )
    return (
        *shared_before,
        WindowStep("core/window_compared_customers"),
        WindowStep("core/window_compared_customer_dates"),
        WindowStep("core/window_listed_rows", "view"),
        WindowStep("core/window_subscription_state_rows", "view"),
        WindowStep("core/window_subscription_states"),
        WindowStep("core/window_customer_states"),
        *shared_after,
    )


# Read by every window, built once before the first (a temp table, dropped after the last).
DERIVATION_STEP = WindowStep("core/rejected_subscription_days")

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
    """The settings and the statements that decide movements; a change to either re-derives
    the whole log, so that a release that fixes a rule also fixes the movements already
    derived by the one before it."""
    definition = _definition_fingerprint(settings.sql_dir)
    return f"past_due_grace_days={settings.past_due_grace_days};definition={definition}"


@cache
def _definition_fingerprint(sql_dir: Path) -> str:
    digest = hashlib.sha256()
    # sql/lake: lake mode applies the history rule when it reads the lake, so a change to it
    # changes what the movements read without changing any delivery's fingerprint
    for path in [
        *sorted((sql_dir / "core").glob("*.sql")),
        *sorted((sql_dir / "lake").glob("*.sql")),
        Path(__file__),
    ]:
        content = path.read_bytes().replace(b"\r\n", b"\n")  # the same on any checkout
        digest.update(f"{path.parent.name}/{path.name}:{len(content)}:".encode())
        digest.update(content)
    return digest.hexdigest()[:16]


def derive_movements(
    conn: duckdb.DuckDBPyConnection, settings: Settings, every_customer: bool | None = None
) -> MovementSummary:
    """Re-derive the log from the earliest changed snapshot date, WINDOW_DAYS at a time.

    Each window is the nightly path over more days, committed on its own: the next one starts
    from what `core.movement_inputs` then says is not derived yet. A run killed between two
    windows leaves a consistent log up to the last committed one, and re-running continues.
    Windows keep the per-customer-and-date hash tables of a multi-year history small enough
    to stay in memory (one window over 64M rows spilled and took 5 times as long as 3 times
    fewer rows). Those tables hold every customer on every date when every customer is
    compared, but only the customers whose subscriptions changed otherwise: a window then spans
    as many days as its stored changes allow (_window_end). `every_customer` (default: lake
    mode) picks the window steps; see window_steps.
    """
    key = settings_key(settings)
    compares_every_customer = settings.lake_mode if every_customer is None else every_customer
    steps = window_steps(compares_every_customer)
    recomputed_from = None
    snapshot_pairs = 0
    movements: Counter[str] = Counter()
    previous_end: date | None = None
    try:
        while (window_start := _recompute_from(conn, settings, key)) is not None:
            if previous_end is not None and window_start <= previous_end:
                raise RuntimeError(
                    f"movements up to {previous_end} were derived but {window_start} still reads "
                    "as changed: core.movement_inputs was not updated"
                )
            if previous_end is None:
                warehouse.run(conn, settings, DERIVATION_STEP.sql)
            window_end = _window_end(conn, settings, window_start, compares_every_customer)
            pairs, counts = _derive_window(conn, settings, key, window_start, window_end, steps)
            recomputed_from = recomputed_from or window_start
            snapshot_pairs += pairs
            movements.update(counts)
            previous_end = window_end
    finally:
        with contextlib.suppress(duckdb.Error):  # an error of the loop is the one to report
            _drop_window_objects(conn, (DERIVATION_STEP,))
    return MovementSummary(recomputed_from, snapshot_pairs, dict(movements))


def _recompute_from(conn: duckdb.DuckDBPyConnection, settings: Settings, key: str) -> date | None:
    row = warehouse.run(conn, settings, "core/recompute_from", {"settings_key": key}).fetchone()
    return row[0] if row else None


def _window_end(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    window_start: date,
    compares_every_customer: bool,
) -> date:
    """WINDOW_DAYS from `window_start`; comparing only changed customers, up to the day before
    the stored changes from `window_start` on exceed WINDOW_CHANGE_ROWS (date.max if never)."""
    try:
        shortest = window_start + timedelta(days=max(WINDOW_DAYS, 1) - 1)
    except OverflowError:
        shortest = date.max
    if compares_every_customer:
        return shortest
    row = warehouse.run(
        conn,
        settings,
        "core/window_last_date_by_changes",
        {"window_start": window_start, "change_rows": WINDOW_CHANGE_ROWS},
    ).fetchone()
    last_date = row[0] if row else None
    return date.max if last_date is None else max(last_date, shortest)


def _derive_window(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    key: str,
    window_start: date,
    window_end: date,
    steps: tuple[WindowStep, ...],
) -> tuple[int, dict[str, int]]:
    params = {
        "window_start": window_start,
        "window_end": window_end,
        "grace_days": settings.past_due_grace_days,
        "settings_key": key,
    }
    try:
        for step in steps:
            warehouse.run(conn, settings, step.sql, params)
        with warehouse.transaction(conn):
            for step in WRITE_STEPS:
                warehouse.run(conn, settings, step, params)
        pairs_row = conn.execute("select count(*) from window_snapshot_pairs").fetchone()
        counts = conn.execute(
            "select movement, count(*) from window_movements group by movement"
        ).fetchall()
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # the original error is the one to report
            _drop_window_objects(conn, steps)
        raise
    _drop_window_objects(conn, steps)
    return int(pairs_row[0]) if pairs_row else 0, {str(k): int(v) for k, v in counts}


def _drop_window_objects(conn: duckdb.DuckDBPyConnection, steps: tuple[WindowStep, ...]) -> None:
    for step in reversed(steps):  # readers before what they read
        if step.creates == "variable":
            conn.execute(f"reset variable {step.name}")
        else:
            conn.execute(f"drop {step.creates} if exists {step.name}")
