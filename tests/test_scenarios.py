"""Hand-built scenarios of METRICS.md §2–§5, one behaviour each, through real Dagster runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date

import pytest

from churn_pipeline.runs import RunFailedError
from tests.conftest import Project, days, sub

Rows = Callable[[str], list[dict]]


def build(
    project: Project, first: str, last: str, rows_for: Rows, skip: set[str] = frozenset()
) -> Project:
    for day in days(first, last):
        if day.isoformat() not in skip:
            project.write_csv(day, rows_for(day.isoformat()))
    project.run(first, last)
    return project


def movement_list(project: Project, customer: str) -> list[tuple[str, str, int, int]]:
    return [
        (m["movement_date"].isoformat(), m["movement"], m["mrr_before"], m["mrr_after"])
        for m in project.movements(customer)
    ]


def steady(day: str) -> list[dict]:
    """A customer who stays all along, so that every period has a base."""
    return [sub("s1", "STEADY", "active", "10.00")]


def test_join_and_leave_inside_a_month(project: Project) -> None:
    def rows(d: str) -> list[dict]:
        extra = [sub("j1", "J", "active", "30.00")] if "2025-02-05" <= d < "2025-02-20" else []
        return steady(d) + extra

    build(project, "2025-01-31", "2025-02-28", rows)
    feb = project.period("month", "2025-02-01")
    assert (
        feb["customers_start"],
        feb["new_customers"],
        feb["churned_customers"],
        feb["customers_end"],
    ) == (1, 1, 1, 1)
    assert (feb["churned_distinct"], feb["churned_from_start"]) == (1, 0)
    assert feb["logo_churn_rate"] == 0.0
    assert feb["gross_logo_churn_rate"] == pytest.approx(1.0)
    assert (feb["new_mrr"], feb["churned_mrr"], feb["mrr_start"], feb["mrr_end"]) == (
        3000,
        3000,
        1000,
        1000,
    )
    assert feb["nrr"] == pytest.approx(1.0) and feb["grr"] == pytest.approx(1.0)
    assert movement_list(project, "J") == [
        ("2025-02-05", "new", 0, 3000),
        ("2025-02-20", "churn", 3000, 0),
    ]


def test_churn_and_reactivation_inside_a_month(project: Project) -> None:
    def rows(d: str) -> list[dict]:
        back = d < "2025-02-10" or d >= "2025-02-18"
        return steady(d) + (
            [sub("r1" if d < "2025-02-10" else "r2", "R", "active", "20.00")] if back else []
        )

    build(project, "2025-01-31", "2025-02-28", rows)
    feb = project.period("month", "2025-02-01")
    assert (
        feb["customers_start"],
        feb["churned_customers"],
        feb["reactivated_customers"],
        feb["customers_end"],
    ) == (2, 1, 1, 2)
    assert (feb["churned_distinct"], feb["churned_from_start"]) == (1, 0)
    assert feb["logo_churn_rate"] == 0.0
    assert (feb["churned_mrr"], feb["reactivation_mrr"]) == (2000, 2000)
    assert movement_list(project, "R") == [
        ("2025-02-10", "churn", 2000, 0),
        ("2025-02-18", "reactivation", 0, 2000),
    ]
    # the week of the churn counts it from its own start
    week = project.period("week", "2025-02-10")
    assert (week["churned_from_start"], week["customers_start"]) == (1, 2)


def test_one_of_two_subscriptions_cancelled_is_contraction(project: Project) -> None:
    def rows(d: str) -> list[dict]:
        second = sub(
            "m2",
            "M",
            "active" if d < "2025-02-15" else "canceled",
            "15.00",
            cancel_reason="too_expensive" if d >= "2025-02-15" else "",
        )
        return [sub("m1", "M", "active", "25.00"), second]

    build(project, "2025-01-31", "2025-02-28", rows)
    assert movement_list(project, "M") == [("2025-02-15", "contraction", 4000, 2500)]
    feb = project.period("month", "2025-02-01")
    assert (feb["churned_customers"], feb["contraction_mrr"], feb["customers_end"]) == (0, 1500, 1)
    assert project.query("select count(*) from reporting.churn_reasons_by_period") == [(0,)]


def test_pause_and_resume_is_not_churn(project: Project) -> None:
    def rows(d: str) -> list[dict]:
        return [sub("p1", "P", "paused" if "2025-02-10" <= d < "2025-03-10" else "active", "50.00")]

    build(project, "2025-01-31", "2025-03-31", rows)
    assert movement_list(project, "P") == [
        ("2025-02-10", "contraction", 5000, 0),
        ("2025-03-10", "expansion", 0, 5000),
    ]
    feb = project.period("month", "2025-02-01")
    assert (feb["customers_start"], feb["customers_end"], feb["churned_customers"]) == (1, 1, 0)
    assert (feb["mrr_end"], feb["nrr"], feb["grr"]) == (0, 0.0, 0.0)
    assert project.period("month", "2025-03-01")["expansion_mrr"] == 5000


def test_paused_trial_that_never_paid_is_not_a_customer(project: Project) -> None:
    def rows(d: str) -> list[dict]:
        status = "trialing" if d < "2025-02-10" else "paused"
        return [*steady(d), sub("t1", "T", status, "40.00")]

    build(project, "2025-01-31", "2025-02-28", rows)
    assert movement_list(project, "T") == []
    assert project.period("month", "2025-02-01")["customers_end"] == 1


def test_past_due_then_recovery_is_no_movement(project: Project) -> None:
    def rows(d: str) -> list[dict]:
        return [
            sub("d1", "D", "past_due" if "2025-02-05" <= d < "2025-02-12" else "active", "20.00")
        ]

    build(project, "2025-01-31", "2025-02-28", rows)
    assert movement_list(project, "D") == []
    assert project.period("month", "2025-02-01")["churned_customers"] == 0


def test_past_due_then_cancel_is_involuntary(project: Project) -> None:
    def rows(d: str) -> list[dict]:
        if d < "2025-02-05":
            return [sub("d1", "D", "active", "20.00")]
        if d < "2025-02-12":
            return [sub("d1", "D", "past_due", "20.00")]
        return [sub("d1", "D", "canceled", "20.00", ended_at="2025-02-12")]

    build(project, "2025-01-31", "2025-02-28", rows)
    [churn] = project.movements("D")
    assert (churn["movement_date"], churn["churn_type"], churn["reason_category"]) == (
        date(2025, 2, 12),
        "involuntary",
        "payment_failed",
    )


def test_past_due_customer_who_gives_a_reason_is_voluntary(project: Project) -> None:
    def rows(d: str) -> list[dict]:
        if d < "2025-02-05":
            return [sub("d1", "D", "active", "20.00")]
        if d < "2025-02-12":
            return [sub("d1", "D", "past_due", "20.00")]
        return [sub("d1", "D", "canceled", "20.00", cancel_reason="Company shut down")]

    build(project, "2025-01-31", "2025-02-28", rows)
    [churn] = project.movements("D")
    assert (churn["churn_type"], churn["reason_category"]) == ("voluntary", "other")


def test_unpaid_is_an_involuntary_stop(project: Project) -> None:
    def rows(d: str) -> list[dict]:
        return [sub("u1", "U", "active" if d < "2025-02-07" else "unpaid", "20.00")]

    build(project, "2025-01-31", "2025-02-28", rows)
    [churn] = project.movements("U")
    assert (churn["movement"], churn["churn_type"], churn["reason_category"]) == (
        "churn",
        "involuntary",
        "payment_failed",
    )


def test_grace_days_stop_a_past_due_subscription_paying(project: Project) -> None:
    project.settings = replace(project.settings, past_due_grace_days=5)

    def rows(d: str) -> list[dict]:
        return [*steady(d), sub("g1", "G", "past_due" if d >= "2025-02-03" else "active", "20.00")]

    build(project, "2025-01-31", "2025-02-28", rows)
    # spell starts Feb 3; pays while fewer than 5 days have passed: stops on Feb 8
    [churn] = project.movements("G")
    assert (churn["movement_date"], churn["churn_type"], churn["reason_category"]) == (
        date(2025, 2, 8),
        "involuntary",
        "payment_failed",
    )


def test_with_no_grace_days_a_past_due_stop_is_involuntary(project: Project) -> None:
    """N = 0: past due never pays (METRICS.md §2), so the subscription stops paying on the
    first past-due snapshot, while it is past due: an involuntary churn (§3, decision 5),
    although it was still `active` on the previous snapshot."""
    project.settings = replace(project.settings, past_due_grace_days=0)

    def rows(d: str) -> list[dict]:
        return [*steady(d), sub("g1", "G", "past_due" if d >= "2025-02-03" else "active", "20.00")]

    build(project, "2025-01-31", "2025-02-28", rows)
    [churn] = project.movements("G")
    assert (churn["movement_date"], churn["churn_type"], churn["reason_category"]) == (
        date(2025, 2, 3),
        "involuntary",
        "payment_failed",
    )
    reasons = project.query(
        "select reason_category, involuntary_customers, voluntary_customers "
        "from reporting.churn_reasons_by_period where grain = 'month' and period_start = '2025-02-01'"
    )
    assert reasons == [("payment_failed", 1, 0)]


def test_churn_inside_a_gap_is_dated_by_ended_at(project: Project) -> None:
    def rows(d: str) -> list[dict]:
        if d < "2025-02-10":
            return [*steady(d), sub("g1", "G", "active", "20.00")]
        return [*steady(d), sub("g1", "G", "canceled", "20.00", ended_at="2025-02-12T09:30:00Z")]

    gap = {"2025-02-10", "2025-02-11", "2025-02-12", "2025-02-13"}
    build(project, "2025-01-31", "2025-02-28", rows, skip=gap)
    [churn] = project.movements("G")
    assert churn["movement_date"] == date(2025, 2, 12)
    assert project.query(
        "select snapshot_date from raw.snapshot_deliveries where status = 'missing' order by 1"
    ) == [(date.fromisoformat(d),) for d in sorted(gap)]
    # carried forward until the churn date, then inactive
    exposure = {
        d: n
        for d, n in project.query("select day, active_customers from core.daily_customer_totals")
    }
    assert (exposure[date(2025, 2, 11)], exposure[date(2025, 2, 12)]) == (2, 1)
    day_12 = project.period("day", "2025-02-12")
    assert (day_12["churned_customers"], day_12["customers_start"]) == (1, 2)


def test_grace_days_that_run_out_inside_a_gap_churn_on_the_next_snapshot(project: Project) -> None:
    """Decision 34: past due from Jan 28 with N = 2 would stop paying on Jan 30, inside the
    gap; with no ended_at or canceled_at there, the churn is the next snapshot's (Feb 2), so
    the customer is still active at the end of January."""
    project.settings = replace(project.settings, past_due_grace_days=2)

    def rows(d: str) -> list[dict]:
        return [*steady(d), sub("g1", "G", "past_due" if d >= "2025-01-28" else "active", "20.00")]

    gap = {"2025-01-29", "2025-01-30", "2025-01-31", "2025-02-01"}
    build(project, "2024-12-31", "2025-02-10", rows, skip=gap)
    [churn] = project.movements("G")
    assert (churn["movement_date"], churn["churn_type"]) == (date(2025, 2, 2), "involuntary")
    january, february = project.period("month", "2025-01-01"), project.period("month", "2025-02-01")
    assert (january["customers_end"], january["churned_customers"]) == (2, 0)
    assert (february["customers_start"], february["churned_customers"]) == (2, 1)


def test_churn_after_a_gap_without_dates_is_dated_on_the_next_snapshot(project: Project) -> None:
    def rows(d: str) -> list[dict]:
        return [*steady(d)] + ([sub("g1", "G", "active", "20.00")] if d < "2025-02-10" else [])

    build(project, "2025-01-31", "2025-02-28", rows, skip={"2025-02-10", "2025-02-11"})
    [churn] = project.movements("G")
    assert churn["movement_date"] == date(2025, 2, 12)


def test_trialing_is_never_counted(project: Project) -> None:
    def rows(d: str) -> list[dict]:
        return [
            *steady(d),
            sub("t1", "T", "trialing", "99.00"),
            sub("t2", "T2", "in_trial", "10.00"),
        ]

    build(project, "2025-01-31", "2025-02-28", rows)
    feb = project.period("month", "2025-02-01")
    assert (feb["customers_start"], feb["customers_end"], feb["mrr_end"]) == (1, 1, 1000)
    assert project.movements("T") == []


def test_zero_mrr_active_subscription_is_not_paying(project: Project) -> None:
    def rows(d: str) -> list[dict]:
        mrr = "0.00" if d >= "2025-02-14" else "10.00"
        return [*steady(d), sub("z1", "Z", "active", mrr)]

    build(project, "2025-01-31", "2025-02-28", rows)
    assert movement_list(project, "Z") == [("2025-02-14", "churn", 1000, 0)]


def test_largest_mrr_reason_wins_when_several_stop_together(project: Project) -> None:
    def rows(d: str) -> list[dict]:
        if d < "2025-02-10":
            return [*steady(d), sub("a", "W", "active", "10.00"), sub("b", "W", "active", "90.00")]
        return [
            *steady(d),
            sub("a", "W", "canceled", "10.00", cancel_reason="Zu teuer", ended_at="2025-02-10"),
            sub(
                "b",
                "W",
                "canceled",
                "90.00",
                cancel_reason="switched_service",
                ended_at="2025-02-10",
            ),
        ]

    build(project, "2025-01-31", "2025-02-28", rows)
    [churn] = project.movements("W")
    assert (churn["reason_raw"], churn["reason_category"], churn["mrr_before"]) == (
        "switched_service",
        "competitor",
        10000,
    )


def test_reason_read_from_the_last_snapshot_that_shows_the_subscription(project: Project) -> None:
    def rows(d: str) -> list[dict]:
        if d < "2025-02-05":
            return [*steady(d), sub("x", "X", "active", "10.00")]
        if d < "2025-02-10":  # a scheduled cancellation: still active, reason already given
            return [
                *steady(d),
                sub(
                    "x", "X", "active", "10.00", canceled_at="2025-02-05", cancel_reason="Za drogo"
                ),
            ]
        return steady(d)  # the export drops ended rows

    build(project, "2025-01-31", "2025-02-28", rows)
    [churn] = project.movements("X")
    assert (churn["movement_date"], churn["reason_category"], churn["churn_type"]) == (
        date(2025, 2, 10),
        "price_financial",
        "voluntary",
    )


def test_longer_periods_use_their_own_boundaries(project: Project) -> None:
    # Q churns in January and comes back in February: each month loses it from its own start
    # (January) or not at all, but the quarter, measured start to end, lost nobody.
    def rows(d: str) -> list[dict]:
        present = not ("2025-01-10" <= d < "2025-02-03")
        return [*steady(d)] + (
            [sub("q1" if d < "2025-01-10" else "q2", "Q", "active", "40.00")] if present else []
        )

    build(project, "2024-12-31", "2025-03-31", rows)
    january, february = project.period("month", "2025-01-01"), project.period("month", "2025-02-01")
    quarter, year = project.period("quarter", "2025-01-01"), project.period("year", "2025-01-01")
    assert (january["churned_from_start"], february["churned_from_start"]) == (1, 0)
    assert quarter["churned_from_start"] == 0 and quarter["logo_churn_rate"] == 0.0
    assert (quarter["churned_customers"], quarter["reactivated_customers"]) == (1, 1)
    assert quarter["nrr"] == pytest.approx(1.0) and january["nrr"] == pytest.approx(1000 / 5000)
    assert quarter["is_complete"] is True
    assert year["is_complete"] is False and year["period_end"] == date(2026, 1, 1)
    assert year["customers_end"] == 2


def test_running_period_is_measured_up_to_the_latest_snapshot(project: Project) -> None:
    def rows(d: str) -> list[dict]:
        return [*steady(d)] + ([sub("n", "N", "active", "5.00")] if d >= "2025-02-10" else [])

    build(project, "2025-01-31", "2025-02-14", rows)
    feb = project.period("month", "2025-02-01")
    assert feb["is_complete"] is False
    assert (feb["customers_end"], feb["mrr_end"], feb["days_in_period"]) == (2, 1500, 28)
    # exposure: 1 customer on Feb 1–10, 2 on Feb 11–14, and no day after the latest snapshot
    assert feb["customer_days_exposed"] == 10 + 4 * 2


def test_unmapped_reasons_are_listed_for_extending_the_mapping(project: Project) -> None:
    def rows(d: str) -> list[dict]:
        if d < "2025-02-10":
            return [*steady(d), sub("a", "A"), sub("b", "B"), sub("c", "C"), sub("o", "O")]
        return [
            *steady(d),
            sub("a", "A", "canceled", cancel_reason="Moving abroad", ended_at="2025-02-10"),
            sub("b", "B", "canceled", cancel_reason="Moving abroad", ended_at="2025-02-10"),
            sub("c", "C", "canceled", cancel_reason="Trop cher", ended_at="2025-02-10"),
            sub("o", "O", "canceled", cancel_reason="other", ended_at="2025-02-10"),
        ]

    build(project, "2025-01-31", "2025-02-28", rows)
    assert project.query("select * from reporting.unmapped_reasons") == [
        ("Moving abroad", 2, 2000, date(2025, 2, 10), date(2025, 2, 10))
    ]


def test_a_quarantined_row_keeps_the_previous_state(project: Project) -> None:
    project.settings = replace(project.settings, quarantine_threshold=1.0)

    def rows(d: str) -> list[dict]:
        broken = "2025-02-10" <= d < "2025-02-13"
        return [*steady(d), sub("q1", "Q", "active", "not a number" if broken else "20.00")]

    build(project, "2025-01-31", "2025-02-28", rows)
    assert movement_list(project, "Q") == []
    assert project.query("select count(*) from raw.rejected_rows where subscription_id = 'q1'") == [
        (3,)
    ]
    feb = project.period("month", "2025-02-01")
    assert (feb["churned_customers"], feb["customers_end"], feb["mrr_end"]) == (0, 2, 3000)


def test_duplicated_rows_keep_the_previous_state_too(project: Project) -> None:
    project.settings = replace(project.settings, quarantine_threshold=1.0)

    def rows(d: str) -> list[dict]:
        copies = 2 if d == "2025-02-10" else 1
        return [*steady(d)] + [sub("q1", "Q", "active", "20.00")] * copies

    build(project, "2025-01-31", "2025-02-28", rows)
    assert movement_list(project, "Q") == []


def test_arpa_excludes_held_customers_and_lifetime_value_uses_six_months(project: Project) -> None:
    def rows(d: str) -> list[dict]:
        # 20 customers of 10.00; from January one leaves on the 10th of each month; P pauses
        months_gone = (
            max(0, (int(d[:4]) - 2025) * 12 + int(d[5:7]) - (0 if d[8:] >= "10" else 1))
            if d >= "2025-01-10"
            else 0
        )
        active = [sub(f"s{i}", f"C{i:02d}", "active", "10.00") for i in range(months_gone, 20)]
        return [*active, sub("p", "P", "paused" if d >= "2025-01-05" else "active", "50.00")]

    build(project, "2024-12-31", "2025-07-31", rows)
    july = project.query_dicts(
        "select * from reporting.kpis_by_period where grain = 'month' and period_start = '2025-07-01'"
    )[0]
    assert july["paying_customers_end"] == 13
    assert july["arpa"] == pytest.approx(1000.0)  # P is held: not in the denominator
    # Feb..Jul: one of 20 (+P) at the start of February is lost each month
    rates = [r[0] for r in project.query(
        "select logo_churn_rate from reporting.churn_by_period where grain = 'month' "
        "and period_start between '2025-02-01' and '2025-07-01' order by period_start")]  # fmt: skip
    assert rates == pytest.approx([1 / n for n in (20, 19, 18, 17, 16, 15)])
    assert july["trailing_6m_monthly_logo_churn"] == pytest.approx(sum(rates) / 6)
    assert july["customer_lifetime_value"] == pytest.approx(1000.0 / (sum(rates) / 6))
    may = project.query_dicts(
        "select * from reporting.kpis_by_period where grain = 'month' and period_start = '2025-05-01'"
    )[0]
    assert may["customer_lifetime_value"] is None  # only five complete months (Jan–May) by then


def test_at_risk_customers_each_signal_from_its_own_scenario(project: Project) -> None:
    def rows(d: str) -> list[dict]:
        late_feb = d >= "2025-02-20"
        return [
            *steady(d),
            # past_due twice: the current spell starts Feb 20
            sub(
                "a1",
                "A",
                "past_due" if ("2025-02-03" <= d < "2025-02-06" or late_feb) else "active",
                "30.00",
            ),
            # scheduled cancellation: still active, canceled_at set, ends in March
            sub(
                "b1",
                "B",
                "active",
                "40.00",
                **(
                    {"canceled_at": "2025-02-25", "ended_at": "2025-03-25"}
                    if d >= "2025-02-25"
                    else {}
                ),
            ),
            # paused since Feb 10
            sub("c1", "C", "paused" if d >= "2025-02-10" else "active", "50.00"),
            # contraction on Feb 15 (one of two subscriptions ends)
            sub("d1", "D", "active", "60.00"),
            *([sub("d2", "D", "active", "5.00")] if d < "2025-02-15" else []),
            # recovered past_due: not at risk
            sub("e1", "E", "past_due" if "2025-02-01" <= d < "2025-02-05" else "active", "70.00"),
        ]

    build(project, "2025-01-31", "2025-02-28", rows)
    got = project.query(
        "select customer_id, signal, since, mrr_at_stake, subscription_id, as_of from reporting.at_risk_customers"
    )
    assert got == [
        ("D", "contraction_last_30_days", date(2025, 2, 15), 6000, None, date(2025, 2, 28)),
        ("C", "paused", date(2025, 2, 10), 5000, "c1", date(2025, 2, 28)),
        ("B", "scheduled_cancellation", date(2025, 2, 25), 4000, "b1", date(2025, 2, 28)),
        ("A", "past_due", date(2025, 2, 20), 3000, "a1", date(2025, 2, 28)),
        # a pause is also a contraction (METRICS.md §3); nothing left to lose but the plan
        ("C", "contraction_last_30_days", date(2025, 2, 10), 0, None, date(2025, 2, 28)),
    ]


def test_at_risk_spells_longer_than_the_recent_snapshots_read_first(project: Project) -> None:
    """The current spells are read from the last 62 loaded snapshots first; a spell reaching
    back to the first of them (here 2025-01-19 of 80 loaded dates) is read again over all of them."""

    def rows(d: str) -> list[dict]:
        return [
            *steady(d),
            sub("p1", "P", "past_due" if d >= "2025-01-05" else "active", "10.00"),
            # an earlier pause, then the current one from Jan 12: the gap is before the recent dates
            sub(
                "q1",
                "Q",
                "paused" if "2025-01-03" <= d <= "2025-01-08" or d >= "2025-01-12" else "active",
                "20.00",
            ),
            sub("r1", "R", "past_due" if d >= "2025-01-19" else "active", "30.00"),
            sub("t1", "T", "past_due" if d >= "2025-01-20" else "active", "40.00"),
        ]

    build(project, "2025-01-01", "2025-03-21", rows)
    # then a refused file (a bad row over the 1% threshold: its run fails) and a good one: the
    # refused date's clean rows stay in raw.subscription_snapshots but it is no snapshot, and
    # must not count as one of the 62
    broken = [sub("s1", "STEADY", "active", "ten"), *rows("2025-03-22")[1:]]
    project.write_csv("2025-03-22", broken)
    with pytest.raises(RunFailedError, match="quarantine_within_threshold"):
        project.run("2025-03-22", "2025-03-22")
    project.write_csv("2025-03-23", rows("2025-03-23"))
    project.run("2025-03-23", "2025-03-23")
    assert project.query(
        "select snapshot_date, status from raw.snapshot_deliveries "
        "where snapshot_date > '2025-03-21' order by 1"
    ) == [(date(2025, 3, 22), "refused"), (date(2025, 3, 23), "loaded")]
    got = project.query(
        "select subscription_id, signal, since from reporting.at_risk_customers "
        "where subscription_id is not null order by subscription_id"
    )
    assert got == [
        ("p1", "past_due", date(2025, 1, 5)),
        ("q1", "paused", date(2025, 1, 12)),
        ("r1", "past_due", date(2025, 1, 19)),
        ("t1", "past_due", date(2025, 1, 20)),
    ]


def test_a_quarantined_row_inside_a_past_due_spell_keeps_its_grace_days(project: Project) -> None:
    """On a quarantined day the subscription keeps its previous state (METRICS.md §1): past due
    with its grace days run out stays not paying, and its spell goes on (§2)."""
    project.settings = replace(project.settings, past_due_grace_days=5, quarantine_threshold=1.0)

    def rows(d: str) -> list[dict]:
        broken = d in ("2025-02-06", "2025-02-10")
        mrr = "not a number" if broken else "20.00"
        return [*steady(d), sub("g1", "G", "past_due" if d >= "2025-02-03" else "active", mrr)]

    build(project, "2025-01-31", "2025-02-28", rows)
    # the spell starts Feb 3 and runs on through the quarantined Feb 6: stops paying on Feb 8
    # and stays stopped through the quarantined Feb 10
    assert movement_list(project, "G") == [("2025-02-08", "churn", 2000, 0)]


def test_a_subscription_absent_from_the_previous_snapshot_stays_ended_on_a_quarantined_day(
    project: Project,
) -> None:
    """Its state of the previous snapshot is "ended", not that of an older row."""
    project.settings = replace(project.settings, quarantine_threshold=1.0)

    def rows(d: str) -> list[dict]:
        if d < "2025-02-10":
            return [*steady(d), sub("e1", "E", "active", "20.00")]
        if d == "2025-02-11":
            return [*steady(d), sub("e1", "E", "active", "not a number")]
        return steady(d)

    build(project, "2025-01-31", "2025-02-28", rows)
    assert movement_list(project, "E") == [("2025-02-10", "churn", 2000, 0)]


def test_a_refused_days_rows_are_never_carried_forward(project: Project) -> None:
    """A refused date is a gap: a row quarantined after it keeps the state of the snapshot
    before the gap, not the refused file's row."""
    project.settings = replace(project.settings, quarantine_threshold=0.4)
    fillers = ["f1", "f2", "f3"]

    def rows(d: str) -> list[dict]:
        if d == "2025-02-10":  # 3 of 5 rows rejected: refused, its clean rows kept aside
            broken = [sub(f, f.upper(), "active", "not a number") for f in fillers]
            return [*steady(d), *broken, sub("r1", "R", "canceled", "20.00")]
        filler_rows = [sub(f, f.upper(), "active", "5.00") for f in fillers]
        mrr = "not a number" if d == "2025-02-11" else "20.00"  # 1 of 5: quarantined
        return [*steady(d), *filler_rows, sub("r1", "R", "active", mrr)]

    build(project, "2025-01-31", "2025-02-09", rows)
    project.write_csv("2025-02-10", rows("2025-02-10"))
    with pytest.raises(RunFailedError, match="quarantine_within_threshold"):
        project.run("2025-02-10", "2025-02-10")  # a refused file fails its run
    for day in days("2025-02-11", "2025-02-28"):
        project.write_csv(day, rows(day.isoformat()))
    project.run("2025-02-11", "2025-02-28")
    assert project.query(
        "select snapshot_date, status from raw.snapshot_deliveries "
        "where snapshot_date between '2025-02-10' and '2025-02-11' order by 1"
    ) == [(date(2025, 2, 10), "refused"), (date(2025, 2, 11), "loaded")]
    assert project.query(
        "select count(*) from raw.subscription_snapshots "
        "where subscription_id = 'r1' and status = 'canceled'"
    ) == [(1,)]  # the refused file's clean row, kept for inspection
    assert movement_list(project, "R") == []
