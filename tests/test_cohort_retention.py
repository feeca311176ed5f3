"""reporting.cohort_retention on a hand-built example, every cell of both grains checked."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from tests.conftest import Project, days, sub

FIRST, LATEST = "2025-01-01", "2025-04-15"  # April and Q2 are running periods


def example_rows(d: str) -> list[dict]:
    """Daily snapshots; a customer absent from a snapshot has ended."""
    rows = [sub("o1", "O", "active", "100.00")]  # opening base, stays
    if d < "2025-02-10":
        rows.append(sub("o2", "O2", "active", "80.00"))  # opening base, churns Feb 10
    if "2025-01-10" <= d < "2025-02-15":
        rows.append(sub("a1", "A", "active", "50.00"))  # January, churns Feb 15
    if "2025-01-20" <= d < "2025-02-05":
        rows.append(sub("b1", "B", "active", "20.00"))  # January, churns Feb 5 ...
    if d >= "2025-03-10":
        rows.append(sub("b2", "B", "active", "30.00"))  # ... and comes back Mar 10
    if d >= "2025-02-03":
        rows.append(sub("c1", "C", "active", "40.00" if d < "2025-03-01" else "100.00"))
    if d >= "2025-02-14":
        rows.append(sub("d1", "D", "active" if d < "2025-03-20" else "paused", "30.00"))
    if "2025-02-20" <= d < "2025-02-25":
        rows.append(sub("e1", "E", "active", "15.00"))  # February, joins and leaves inside it
    if d >= "2025-04-05":
        rows.append(sub("f1", "F", "active", "25.00"))  # April, the running month
    return rows


@pytest.fixture(scope="module")
def example(
    tmp_path_factory: pytest.TempPathFactory, module_instance: dg.DagsterInstance
) -> Project:
    project = Project(tmp_path_factory.mktemp("cohorts"), module_instance)
    for day in days(FIRST, LATEST):
        project.write_csv(day, example_rows(day.isoformat()))
    project.run(FIRST, LATEST)
    return project


def cells(project: Project, grain: str) -> list[tuple]:
    return project.query(
        "select cohort, cohort_start, period_number, period_start, period_end, is_complete, "
        "cohort_customers, active_customers, cohort_mrr, mrr from reporting.cohort_retention "
        "where cohort_grain = $grain",
        {"grain": grain},
    )


def rates(project: Project, grain: str) -> list[tuple]:
    return project.query(
        "select logo_retention, revenue_retention from reporting.cohort_retention "
        "where cohort_grain = $grain",
        {"grain": grain},
    )


def d(text: str) -> date:
    return date.fromisoformat(text)


def test_month_cohorts_every_cell(example: Project) -> None:
    jan, feb, mar, apr, may = (d(f"2025-{m:02d}-01") for m in range(1, 6))
    # cohort, cohort_start, n, period_start, period_end, complete, members, active, cohort_mrr, mrr
    assert cells(example, "month") == [
        # the opening base (O, O2): O2 churns in February
        ("opening", jan, 0, jan, feb, True, 2, 2, 18000, 18000),
        ("opening", jan, 1, feb, mar, True, 2, 1, 18000, 10000),
        ("opening", jan, 2, mar, apr, True, 2, 1, 18000, 10000),
        ("opening", jan, 3, apr, may, False, 2, 1, 18000, 10000),
        # A and B: both churn in February, B comes back in March in its own cohort
        ("2025-01", jan, 0, jan, feb, True, 2, 2, 7000, 7000),
        ("2025-01", jan, 1, feb, mar, True, 2, 0, 7000, 0),
        ("2025-01", jan, 2, mar, apr, True, 2, 1, 7000, 3000),
        ("2025-01", jan, 3, apr, may, False, 2, 1, 7000, 3000),
        # C, D, E: E joins and leaves in February; C expands, D pauses (active at MRR 0)
        ("2025-02", feb, 0, feb, mar, True, 3, 2, 7000, 7000),
        ("2025-02", feb, 1, mar, apr, True, 3, 2, 7000, 10000),
        ("2025-02", feb, 2, apr, may, False, 3, 2, 7000, 10000),
        # F: first paid in the running month, measured at the latest snapshot
        ("2025-04", apr, 0, apr, may, False, 1, 1, 2500, 2500),
    ]
    assert rates(example, "month") == [
        (1.0, 1.0),
        (0.5, pytest.approx(10000 / 18000)),
        (0.5, pytest.approx(10000 / 18000)),
        (0.5, pytest.approx(10000 / 18000)),
        (1.0, 1.0),
        (0.0, 0.0),
        (0.5, pytest.approx(3000 / 7000)),
        (0.5, pytest.approx(3000 / 7000)),
        (pytest.approx(2 / 3), 1.0),
        (pytest.approx(2 / 3), pytest.approx(10000 / 7000)),  # revenue retention above 100%
        (pytest.approx(2 / 3), pytest.approx(10000 / 7000)),
        (1.0, 1.0),
    ]


def test_quarter_cohorts_every_cell(example: Project) -> None:
    q1, q2, q3 = d("2025-01-01"), d("2025-04-01"), d("2025-07-01")
    assert cells(example, "quarter") == [
        # opening first when it shares cohort_start with the first quarter's cohort
        ("opening", q1, 0, q1, q2, True, 2, 1, 10000, 10000),
        ("opening", q1, 1, q2, q3, False, 2, 1, 10000, 10000),
        # A, B, C, D, E at the end of March: B back (30.00), C 100.00, D paused, A and E gone
        ("2025-Q1", q1, 0, q1, q2, True, 5, 3, 13000, 13000),
        ("2025-Q1", q1, 1, q2, q3, False, 5, 3, 13000, 13000),
        ("2025-Q2", q2, 0, q2, q3, False, 1, 1, 2500, 2500),
    ]
    assert rates(example, "quarter") == [
        (0.5, 1.0),
        (0.5, 1.0),
        (0.6, 1.0),
        (0.6, 1.0),
        (1.0, 1.0),
    ]


def test_cohort_without_mrr_has_no_revenue_retention(project: Project) -> None:
    """A cohort whose members are all held at the end of period 0 has cohort_mrr 0: NULL, not 0."""
    for day in days("2025-01-28", "2025-02-03"):
        text = day.isoformat()
        rows = [sub("s1", "S", "active", "10.00")]
        if text >= "2025-01-29":
            rows.append(sub("h1", "H", "active" if text == "2025-01-29" else "paused", "20.00"))
        project.write_csv(day, rows)
    project.run("2025-01-28", "2025-02-03")
    assert project.query(
        "select period_number, cohort_customers, active_customers, cohort_mrr, mrr, "
        "revenue_retention from reporting.cohort_retention "
        "where cohort_grain = 'month' and cohort = '2025-01'"
    ) == [(0, 1, 1, 0, 0, None), (1, 1, 1, 0, 0, None)]
