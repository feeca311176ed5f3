from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from churn_pipeline.runs import run_pipeline
from churn_pipeline.settings import Settings

SNAPSHOT_COLUMNS = [
    "subscription_id", "customer_id", "status", "mrr", "currency", "plan",
    "started_at", "canceled_at", "ended_at", "cancel_reason",
]  # fmt: skip


class Project:
    """A tmp_path project: landing folder, warehouse file, Dagster instance."""

    def __init__(self, root: Path, instance: dg.DagsterInstance, **overrides: Any) -> None:
        self.root = root
        self.landing = root / "landing"
        self.landing.mkdir()
        self.instance = instance
        base = Settings.from_env(
            {
                "CHURN_LANDING_DIR": str(self.landing),
                "CHURN_WAREHOUSE": str(root / "warehouse.duckdb"),
                "DAGSTER_HOME": str(root / "dagster_home"),
                "CHURN_START_DATE": "2020-01-01",
            }
        )
        self.settings = replace(base, **overrides)

    def write_csv(
        self, day: date | str, rows: list[dict[str, Any]], name: str | None = None
    ) -> Path:
        day_text = day if isinstance(day, str) else day.isoformat()
        path = self.landing / (name or f"{day_text}.csv")
        columns = SNAPSHOT_COLUMNS + sorted({k for r in rows for k in r} - set(SNAPSHOT_COLUMNS))
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                writer.writerow({c: row.get(c, "") for c in columns})
        return path

    def run(self, start: date | str, end: date | str) -> None:
        as_date = lambda d: d if isinstance(d, date) else date.fromisoformat(d)  # noqa: E731
        run_pipeline(self.settings, self.instance, as_date(start), as_date(end))

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.settings.warehouse_path), read_only=True) as conn:
            return conn.execute(sql, params or {}).fetchall()

    def query_dicts(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with duckdb.connect(str(self.settings.warehouse_path), read_only=True) as conn:
            cursor = conn.execute(sql, params or {})
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def period(self, grain: str, start: str) -> dict[str, Any]:
        rows = self.query_dicts(
            "select * from reporting.churn_by_period where grain = $grain and period_start = $start",
            {"grain": grain, "start": date.fromisoformat(start)},
        )
        assert len(rows) == 1, f"expected one {grain} row for {start}, got {rows}"
        return rows[0]

    def movements(self, customer_id: str | None = None) -> list[dict[str, Any]]:
        where = "where customer_id = $customer" if customer_id else ""
        params = {"customer": customer_id} if customer_id else {}
        return self.query_dicts(
            f"select * from reporting.customer_movements {where} order by movement_date, customer_id",
            params,
        )


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture(scope="module")
def module_instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture
def project(tmp_path: Path, instance: dg.DagsterInstance) -> Project:
    return Project(tmp_path, instance)


def days(first: str, last: str) -> list[date]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def sub(
    subscription_id: str, customer_id: str, status: str = "active", mrr: str = "10.00", **extra: Any
) -> dict[str, Any]:
    return {
        "subscription_id": subscription_id,
        "customer_id": customer_id,
        "status": status,
        "mrr": mrr,
        **extra,
    }
