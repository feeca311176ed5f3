"""Tenure hazards, the survival curve and the forecast on populations whose truth is known.

A synthetic population with a constant daily churn hazard (a fixed monthly hazard spread over
the days) has a known survival curve and a known churn probability for any period; the
estimates must land within a stated tolerance of it. The back-test must never read data from
after the day before the period it forecasts: extending the history with a very different
future must leave every back-test forecast untouched and equal to the live forecast made when
that day was the latest snapshot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import Project

MONTHLY_HAZARD = 0.10
DAYS_PER_MONTH = 30.4375
DAILY_HAZARD = 1 - (1 - MONTHLY_HAZARD) ** (1 / DAYS_PER_MONTH)

# Tolerances, absolute. Each is about three standard errors at the sample sizes below.
SURVIVAL_TOLERANCE = 0.04
MONTHLY_RATE_TOLERANCE = 0.015
QUARTERLY_RATE_TOLERANCE = 0.03


@dataclass(frozen=True)
class Lifetime:
    customer: str
    first_day: int  # day offset of the first paying day
    churn_day: int | None  # first inactive day offset, None while still active


def constant_hazard_population(
    days: int, opening: int, arrivals_per_day: int, seed: int
) -> list[Lifetime]:
    rng = np.random.default_rng(seed)
    lifetimes: list[Lifetime] = []
    starts = [0] * opening + [d for d in range(1, days) for _ in range(arrivals_per_day)]
    for number, first_day in enumerate(starts):
        # geometric lifetime in days: each active day ends with probability DAILY_HAZARD
        length = int(rng.geometric(DAILY_HAZARD))
        churn_day = first_day + length
        lifetimes.append(
            Lifetime(f"c{number:05d}", first_day, churn_day if churn_day < days else None)
        )
    return lifetimes


def write_snapshots(
    landing: Path, first_date: date, lifetimes: list[Lifetime], day_range: range
) -> None:
    for day in day_range:
        active = [
            life.customer
            for life in lifetimes
            if life.first_day <= day and (life.churn_day is None or day < life.churn_day)
        ]
        table = pa.table(
            {
                "subscription_id": [f"s-{c}" for c in active],
                "customer_id": active,
                "status": ["active"] * len(active),
                "mrr": pa.array([50.0] * len(active), pa.float64()),
            }
        )
        pq.write_table(table, landing / f"{(first_date + timedelta(days=day)).isoformat()}.parquet")


def month_hazard(days_in_period: int) -> float:
    """The true chance that a customer active at a period's start is lost by its end."""
    return 1 - (1 - DAILY_HAZARD) ** days_in_period


@pytest.fixture(scope="module")
def constant_hazard_run(tmp_path_factory: pytest.TempPathFactory, module_instance) -> Project:
    project = Project(tmp_path_factory.mktemp("constant_hazard"), module_instance)
    first = date(2024, 1, 1)
    days = 366
    lifetimes = constant_hazard_population(days, opening=300, arrivals_per_day=6, seed=11)
    write_snapshots(project.landing, first, lifetimes, range(days))
    project.run(first, first + timedelta(days=days - 1))
    return project


def test_survival_curve_matches_the_constant_hazard(constant_hazard_run: Project) -> None:
    curve = constant_hazard_run.query(
        "select tenure_days, survival, survival_ci_low, survival_ci_high, customers_at_risk "
        "from reporting.customer_survival order by tenure_days"
    )
    survival_at = {}
    for tenure_days, survival, low, high, at_risk in curve:
        assert low <= survival <= high
        assert at_risk > 0
        survival_at[tenure_days] = survival
    previous = 1.0
    for _, survival, *_ in curve:
        assert survival <= previous  # a survival curve never rises
        previous = survival

    def km(day: int) -> float:
        return min((s for d, s in survival_at.items() if d <= day), default=1.0)

    for day in (30, 91, 182, 273):
        truth = (1 - DAILY_HAZARD) ** day
        assert abs(km(day) - truth) < SURVIVAL_TOLERANCE, (day, km(day), truth)


@pytest.mark.parametrize(
    ("customers_on_day_two", "expected"),
    [
        # one customer churns after a day: the curve ends at its first step ([0, 1] before)
        (["a"], [(1, 0.0, 0.0, 0.0)]),
        # one churns after a day (a defined variance), the other after two: the curve ends
        (["a", "b"], [(1, 0.5, None, None), (2, 0.0, 0.0, 0.0)]),
    ],
)
def test_a_survival_curve_at_zero_has_the_interval_zero_to_zero(
    project: Project, customers_on_day_two: list[str], expected: list[tuple]
) -> None:
    """Everyone at risk churned: Greenwood's variance is undefined there, so the interval is
    [0, 0] (its limit) whether or not an earlier step had a variance."""
    trial = {"subscription_id": "zz", "customer_id": "ZZ", "status": "trialing", "mrr": "0"}

    def paying(ids: list[str]) -> list[dict[str, str]]:
        return [
            {"subscription_id": i, "customer_id": i.upper(), "status": "active", "mrr": "10.00"}
            for i in ids
        ]

    project.write_csv("2025-01-01", [trial])
    project.write_csv("2025-01-02", paying(customers_on_day_two))
    project.write_csv("2025-01-03", paying(customers_on_day_two[1:]) or [trial])
    project.write_csv("2025-01-04", [trial])
    project.run("2025-01-01", "2025-01-04")
    rows = project.query(
        "select tenure_days, survival, survival_ci_low, survival_ci_high "
        "from reporting.customer_survival order by tenure_days"
    )
    assert len(rows) == len(expected)
    for row, wanted in zip(rows, expected, strict=True):
        if wanted[2] is None:  # a defined interval around the estimate
            assert row[:2] == wanted[:2] and row[2] < row[1] < row[3]
        else:
            assert row == wanted


def test_tenure_hazards_match_the_constant_hazard(constant_hazard_run: Project) -> None:
    rows = constant_hazard_run.query_dicts("select * from reporting.churn_by_tenure")
    known = [r for r in rows if r["tenure_basis"] == "known_tenure"]
    opening = [r for r in rows if r["tenure_basis"] == "opening"]
    assert [r["tenure_month"] for r in known] == list(range(len(known)))
    assert len(opening) == 1 and opening[0]["tenure_month"] is None
    exposed = sum(r["customers_exposed"] for r in known)
    churned = sum(r["customers_churned"] for r in known)
    assert abs(churned / exposed - month_hazard(30)) < MONTHLY_RATE_TOLERANCE
    assert abs(opening[0]["hazard"] - month_hazard(30)) < MONTHLY_RATE_TOLERANCE
    for r in known[:6]:  # the early tenure months have thousands of exposures each
        assert abs(r["hazard"] - month_hazard(30)) < 3 * MONTHLY_RATE_TOLERANCE, r

    # the life table reconciles with the monthly churn table: same exposures, same losses
    totals = constant_hazard_run.query(
        "select sum(customers_start), sum(churned_from_start) from reporting.churn_by_period "
        "where grain = 'month' and is_complete"
    )[0]
    assert totals == (
        sum(r["customers_exposed"] for r in rows),
        sum(r["customers_churned"] for r in rows),
    )


def test_forecast_lands_on_the_true_churn_probability(constant_hazard_run: Project) -> None:
    forecasts = {
        r["grain"]: r
        for r in constant_hazard_run.query_dicts("select * from reporting.churn_forecast")
    }
    assert set(forecasts) == {"month", "quarter"}
    month, quarter = forecasts["month"], forecasts["quarter"]
    assert (month["period_start"], month["period_end"]) == (date(2025, 1, 1), date(2025, 2, 1))
    assert (quarter["period_start"], quarter["period_end"]) == (date(2025, 1, 1), date(2025, 4, 1))
    active_at_latest = constant_hazard_run.query(
        "select active_customers from core.daily_customer_totals where day = date '2024-12-31'"
    )[0][0]
    for row, days_in_period, tolerance in (
        (month, 31, MONTHLY_RATE_TOLERANCE),
        (quarter, 90, QUARTERLY_RATE_TOLERANCE),
    ):
        assert row["origin_date"] == date(2024, 12, 31)
        assert row["customers_at_origin"] == active_at_latest
        assert abs(row["expected_logo_churn_rate"] - month_hazard(days_in_period)) < tolerance
        expected = row["expected_churned_customers"]
        assert row["churned_customers_low"] < expected < row["churned_customers_high"]
        # every customer pays 50.00, so the MRR forecast is the customer forecast × 5000
        assert math.isclose(row["expected_churned_mrr"], expected * 5000, rel_tol=1e-9)
        assert row["backtest_periods"] > 0


def test_backtest_is_calibrated_on_the_constant_hazard(constant_hazard_run: Project) -> None:
    rows = constant_hazard_run.query_dicts(
        "select * from reporting.churn_forecast_backtest where grain = 'month' order by period_start"
    )
    # Feb 2024 is the first month with a known start; March is the first with a trailing month
    assert [r["period_start"] for r in rows] == [date(2024, m, 1) for m in range(3, 13)]
    by_period = {
        r["period_start"]: r
        for r in constant_hazard_run.query_dicts(
            "select * from reporting.churn_by_period where grain = 'month'"
        )
    }
    for r in rows:
        period = by_period[r["period_start"]]
        assert r["actual_churned_customers"] == period["churned_from_start"]
        assert r["customers_start"] == period["customers_start"]
        assert r["actual_churned_mrr"] == 5000 * period["churned_from_start"]
    within = sum(r["actual_within_interval"] for r in rows)
    assert within >= 8, [(r["period_start"], r["actual_within_interval"]) for r in rows]
    forecast_total = sum(r["forecast_churned_customers"] for r in rows)
    actual_total = sum(r["actual_churned_customers"] for r in rows)
    assert abs(forecast_total / actual_total - 1) < 0.1


def test_backtest_never_reads_after_the_period_start(project: Project) -> None:
    """Forecasts made at the end of June must not move when July–September arrive."""
    first = date(2024, 1, 1)
    june_30, september_30 = 181, 273  # day offsets
    calm = constant_hazard_population(september_30 + 1, opening=200, arrivals_per_day=3, seed=5)
    # a very different future: from July 10 on, every second customer leaves at once
    upheaval = [
        Lifetime(
            life.customer,
            life.first_day,
            191
            if number % 2 == 0 and (life.churn_day is None or life.churn_day > 191)
            else life.churn_day,
        )
        if life.first_day < 191
        else life
        for number, life in enumerate(calm)
    ]
    write_snapshots(project.landing, first, upheaval, range(june_30 + 1))
    project.run(first, first + timedelta(days=june_30))
    live_then = {
        r["grain"]: r for r in project.query_dicts("select * from reporting.churn_forecast")
    }
    backtest_then = project.query("select * from reporting.churn_forecast_backtest order by all")

    write_snapshots(project.landing, first, upheaval, range(june_30 + 1, september_30 + 1))
    project.run(first + timedelta(days=june_30 + 1), first + timedelta(days=september_30))
    backtest_now = project.query_dicts(
        "select * from reporting.churn_forecast_backtest order by grain, period_start"
    )
    by_target = {(r["grain"], r["period_start"]): r for r in backtest_now}

    # the upheaval is real: July lost about half of its customers
    july = by_target[("month", date(2024, 7, 1))]
    assert july["actual_churned_customers"] > 0.4 * july["customers_start"]
    for grain, start in (("month", date(2024, 7, 1)), ("quarter", date(2024, 7, 1))):
        then, now = live_then[grain], by_target[(grain, start)]
        assert then["period_start"] == start
        assert now["origin_date"] == then["origin_date"] == date(2024, 6, 30)
        assert now["customers_start"] == then["customers_at_origin"]
        assert now["forecast_churned_customers"] == pytest.approx(
            then["expected_churned_customers"], rel=1e-12
        )
        assert now["forecast_churned_mrr"] == pytest.approx(then["expected_churned_mrr"], rel=1e-12)
        assert now["forecast_churned_customers_high"] == pytest.approx(
            then["churned_customers_high"], rel=1e-12
        )
    # every forecast of a period that was already in the back-test is unchanged (its forecast,
    # interval and actual); only the columns summarising the whole back-test may move
    for then_row in backtest_then:
        now = list(by_target[(then_row[0], then_row[1])].values())
        for then_value, now_value in zip(then_row[:10], now[:10], strict=True):
            if isinstance(then_value, float):
                assert math.isclose(then_value, now_value, rel_tol=1e-12), then_row
            else:
                assert then_value == now_value, then_row


def test_seasonality_pools_the_complete_months_of_each_calendar_month(
    constant_hazard_run: Project,
) -> None:
    rows = constant_hazard_run.query_dicts(
        "select * from reporting.churn_seasonality order by month_of_year"
    )
    months = constant_hazard_run.query_dicts(
        "select * from reporting.churn_by_period where grain = 'month' and is_complete"
    )
    # January 2024 starts on the first snapshot (its start state is unknown): no January row
    assert [r["month_of_year"] for r in rows] == list(range(2, 13))
    assert rows[0]["month_name"] == "February"
    for row in rows:
        same = [m for m in months if m["period_start"].month == row["month_of_year"]]
        assert row["months_observed"] == len(same) == 1
        assert row["customers_start"] == sum(m["customers_start"] for m in same)
        assert row["churned_from_start"] == sum(m["churned_from_start"] for m in same)
        assert row["logo_churn_rate"] == pytest.approx(
            row["churned_from_start"] / row["customers_start"]
        )
    pooled = sum(r["churned_from_start"] for r in rows) / sum(r["customers_start"] for r in rows)
    for row in rows:
        assert row["churn_index"] == pytest.approx(row["logo_churn_rate"] / pooled)


def test_forecast_from_mid_month_discounts_the_days_before_the_period(project: Project) -> None:
    """With the latest snapshot on Dec 15, January's forecast first survives Dec 16–31."""
    first = date(2024, 1, 1)
    days = 350  # the last snapshot is 2024-12-15
    lifetimes = constant_hazard_population(days, opening=300, arrivals_per_day=6, seed=23)
    write_snapshots(project.landing, first, lifetimes, range(days))
    project.run(first, first + timedelta(days=days - 1))
    forecasts = {
        r["grain"]: r for r in project.query_dicts("select * from reporting.churn_forecast")
    }
    month, quarter = forecasts["month"], forecasts["quarter"]
    assert month["origin_date"] == date(2024, 12, 15)
    assert (month["period_start"], quarter["period_start"]) == (date(2025, 1, 1), date(2025, 1, 1))
    survive_to_start = (1 - DAILY_HAZARD) ** 16  # Dec 16 … Dec 31
    for row, days_in_period, tolerance in (
        (month, 31, MONTHLY_RATE_TOLERANCE),
        (quarter, 90, QUARTERLY_RATE_TOLERANCE),
    ):
        truth = survive_to_start * month_hazard(days_in_period)
        assert abs(row["expected_logo_churn_rate"] - truth) < tolerance, (row["grain"], truth)
    # the discount is there: without it the month would be about 10.2%, with it about 9.7%
    assert month["expected_logo_churn_rate"] < month_hazard(31)


def test_the_forecasts_sums_do_not_depend_on_the_order_of_their_terms(tmp_path: Path) -> None:
    """A sum of doubles depends on the order of its terms, and DuckDB's order depends on its
    threads: the forecasts' expected MRR and variances differed in their last bits from one
    build to the next. core.order_free_sum adds them exactly, as decimals."""
    from churn_pipeline import warehouse
    from churn_pipeline.settings import Settings

    settings = Settings.from_env(
        {"CHURN_LANDING_DIR": str(tmp_path), "CHURN_WAREHOUSE": str(tmp_path / "w.duckdb")}
    )
    with warehouse.open_warehouse(settings) as conn:
        conn.execute("set threads = 1")  # the subquery's order is then the order of the terms
        conn.execute(
            "create temp table terms as select i, (case i % 3 when 0 then 1e15 when 1 then 0.1 "
            "else -1e15 end) + i * 1e-3 as term from range(3000) as numbers (i)"
        )
        sums = {
            aggregate: {
                conn.execute(
                    f"select {aggregate} from (select term from terms order by {order})"
                ).fetchone()[0]
                for order in ("i", "hash(i)", "i desc")
            }
            for aggregate in ("sum(term)", "core.order_free_sum(term)")
        }
    assert len(sums["sum(term)"]) > 1  # what the macro is for
    (order_free,) = sums["core.order_free_sum(term)"]
    assert order_free == pytest.approx(4599.2426, abs=1e-4)
