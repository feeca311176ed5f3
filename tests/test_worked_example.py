"""METRICS.md §8, the worked example: every number it states, from files to published tables."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from tests.conftest import Project, days, sub


def worked_example_rows(day: date) -> list[dict]:
    d = day.isoformat()
    rows = []
    # A: 100.00, cancels Feb 10 with "Trop cher"
    if d < "2025-02-10":
        rows.append(sub("a1", "A", "active", "100.00"))
    else:
        rows.append(
            sub(
                "a1",
                "A",
                "canceled",
                "100.00",
                ended_at="2025-02-10",
                canceled_at="2025-02-10",
                cancel_reason="Trop cher",
            )
        )
    # B: 50.00, upgrades to 80.00 on Feb 5
    rows.append(sub("b1", "B", "active", "80.00" if d >= "2025-02-05" else "50.00"))
    # C: new 30.00 from Feb 3, cancels Feb 20 without reason
    if "2025-02-03" <= d < "2025-02-20":
        rows.append(sub("c1", "C", "active", "30.00"))
    elif d >= "2025-02-20":
        rows.append(sub("c1", "C", "canceled", "30.00", ended_at="2025-02-20"))
    # D: 20.00, past_due from Feb 12, canceled Feb 26
    if d < "2025-02-12":
        rows.append(sub("d1", "D", "active", "20.00"))
    elif d < "2025-02-26":
        rows.append(sub("d1", "D", "past_due", "20.00"))
    else:
        rows.append(sub("d1", "D", "canceled", "20.00", ended_at="2025-02-26"))
    # E: two subscriptions, 25.00 and 15.00; drops the 15.00 one on Feb 15
    rows.append(sub("e1", "E", "active", "25.00"))
    rows.append(sub("e2", "E", "active" if d < "2025-02-15" else "canceled", "15.00"))
    return rows


@pytest.fixture(scope="module")
def worked_example(
    tmp_path_factory: pytest.TempPathFactory, module_instance: dg.DagsterInstance
) -> Project:
    project = Project(tmp_path_factory.mktemp("worked_example"), module_instance)
    for day in [date(2025, 1, 31), *days("2025-02-01", "2025-02-28")]:
        project.write_csv(day, worked_example_rows(day))
    project.run("2025-01-31", "2025-02-28")
    return project


def test_february_counts_and_rates(worked_example: Project) -> None:
    feb = worked_example.period("month", "2025-02-01")
    assert feb["is_complete"] is True
    assert feb["period_end"] == date(2025, 3, 1)
    assert (feb["customers_start"], feb["new_customers"], feb["reactivated_customers"]) == (4, 1, 0)
    assert (feb["churned_customers"], feb["customers_end"]) == (3, 2)
    assert (feb["churned_distinct"], feb["churned_from_start"]) == (3, 2)
    assert feb["logo_churn_rate"] == pytest.approx(0.5)
    assert feb["gross_logo_churn_rate"] == pytest.approx(0.75)
    assert feb["net_customer_change_rate"] == pytest.approx(0.5)
    assert feb["customer_days_exposed"] == 109
    assert feb["customer_days_churn_rate"] == pytest.approx(3 / 109 * 28)
    assert round(feb["customer_days_churn_rate"], 4) == 0.7706


def test_february_mrr_bridge_and_retention(worked_example: Project) -> None:
    feb = worked_example.period("month", "2025-02-01")
    assert feb["mrr_start"] == 21000
    assert (feb["new_mrr"], feb["reactivation_mrr"], feb["expansion_mrr"]) == (3000, 0, 3000)
    assert (feb["contraction_mrr"], feb["churned_mrr"], feb["mrr_end"]) == (1500, 15000, 10500)
    assert feb["nrr"] == pytest.approx(0.5)
    assert feb["grr"] == pytest.approx(75 / 210)
    assert feb["gross_mrr_churn_rate"] == pytest.approx(1 - 75 / 210)
    assert round(feb["gross_mrr_churn_rate"], 3) == 0.643
    assert feb["net_mrr_churn_rate"] == pytest.approx(0.5)


def test_january_is_not_published(worked_example: Project) -> None:
    # its start state is unknown: the first snapshot is Jan 31
    assert worked_example.query(
        "select count(*) from reporting.churn_by_period where period_start < '2025-02-01'"
    ) == [(0,)]


def test_movements_of_the_worked_example(worked_example: Project) -> None:
    got = [
        (
            m["customer_id"],
            m["movement_date"].isoformat(),
            m["movement"],
            m["mrr_before"],
            m["mrr_after"],
        )
        for m in worked_example.movements()
    ]
    assert got == [
        ("C", "2025-02-03", "new", 0, 3000),
        ("B", "2025-02-05", "expansion", 5000, 8000),
        ("A", "2025-02-10", "churn", 10000, 0),
        ("E", "2025-02-15", "contraction", 4000, 2500),
        ("C", "2025-02-20", "churn", 3000, 0),
        ("D", "2025-02-26", "churn", 2000, 0),
    ]


def test_worked_example_reasons(worked_example: Project) -> None:
    churns = {m["customer_id"]: m for m in worked_example.movements() if m["movement"] == "churn"}
    assert (
        churns["A"]["reason_category"],
        churns["A"]["churn_type"],
        churns["A"]["reason_raw"],
    ) == ("price_financial", "voluntary", "Trop cher")
    assert (churns["C"]["reason_category"], churns["C"]["churn_type"]) == ("unknown", "voluntary")
    assert (churns["D"]["reason_category"], churns["D"]["churn_type"]) == (
        "payment_failed",
        "involuntary",
    )
    reasons = worked_example.query_dicts(
        "select * from reporting.churn_reasons_by_period where grain = 'month' and period_start = '2025-02-01' "
        "order by reason_category"
    )
    assert [
        (
            r["reason_category"],
            r["churned_customers"],
            r["churned_mrr"],
            r["voluntary_customers"],
            r["involuntary_customers"],
        )
        for r in reasons
    ] == [
        ("payment_failed", 1, 2000, 0, 1),
        ("price_financial", 1, 10000, 1, 0),
        ("unknown", 1, 3000, 1, 0),
    ]
    for r in reasons:
        assert r["share_of_churned_customers"] == pytest.approx(1 / 3)
    assert [round(r["share_of_churned_mrr"], 6) for r in reasons] == [
        round(20 / 150, 6),
        round(100 / 150, 6),
        round(30 / 150, 6),
    ]


def test_worked_example_companion_kpis(worked_example: Project) -> None:
    [kpis] = worked_example.query_dicts(
        "select * from reporting.kpis_by_period where grain = 'month' and period_start = '2025-02-01'"
    )
    assert kpis["paying_customers_end"] == 2  # B and E
    assert kpis["arpa"] == pytest.approx(10500 / 2)
    assert kpis["quick_ratio"] == pytest.approx((3000 + 3000 + 0) / (15000 + 1500))
    assert kpis["trailing_6m_monthly_logo_churn"] == pytest.approx(0.5)  # one complete month only
    assert kpis["customer_lifetime_value"] is None  # fewer than six complete months
