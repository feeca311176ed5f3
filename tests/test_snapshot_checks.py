"""The raw layer's query checks (sql/checks/) on a real warehouse: what they find, over which dates."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import duckdb

from churn_pipeline import warehouse
from tests.conftest import Project, sub

FIRST, SECOND, THIRD = date(2025, 1, 1), date(2025, 1, 2), date(2025, 1, 3)


def check_findings(project: Project, name: str, window: tuple[date, date] | None) -> list[tuple]:
    params = {
        "window_start": window[0] if window else None,
        "window_end": window[1] if window else None,
        "max_drop": project.settings.active_drop_warning,
    }
    with duckdb.connect(str(project.settings.warehouse_path)) as conn:
        warehouse.run(conn, project.settings, "schema/macro_checked_snapshot_dates")
        sql_name = name if "/" in name else f"checks/{name}"
        return warehouse.run(conn, project.settings, sql_name, params).fetchall()


def test_a_sudden_drop_of_active_subscriptions_is_found_in_its_window_only(
    project: Project,
) -> None:
    ten = [sub(f"s{i}", f"c{i}") for i in range(10)]
    project.write_csv(FIRST, ten)
    project.write_csv(SECOND, ten[:3])  # a truncated export: 70 % gone
    project.write_csv(THIRD, ten[:3])
    project.run(FIRST, THIRD)
    drop = (FIRST, SECOND, 10, 3)
    found = check_findings(project, "active_subscription_drops", (FIRST, THIRD))
    assert [row[:4] for row in found] == [drop]
    # a run of the later date alone compares it with the loaded snapshot before it
    assert check_findings(project, "active_subscription_drops", (SECOND, SECOND))[0][:4] == drop
    assert check_findings(project, "active_subscription_drops", (THIRD, THIRD)) == []
    project.run(THIRD, THIRD)  # the latest ingestion, when the run names no dates
    assert check_findings(project, "active_subscription_drops", None) == []


def test_drops_counted_from_the_stored_versions_equal_those_counted_row_by_row(
    project: Project,
) -> None:
    # subscriptions that leave and come back, go past_due, get canceled and change plan, and a
    # date without a file: the counts the versions give must be the rows' counts on every date
    days = [date(2025, 1, d) for d in (1, 2, 3, 5, 6, 7, 8)]  # no file on the 4th
    everyone = [sub(f"s{i}", f"c{i % 7}") for i in range(20)]
    by_day = {
        days[0]: everyone,
        days[1]: everyone[:12],  # 8 leave
        days[2]: [*everyone[:12], *(sub(f"s{i}", f"c{i % 7}", "past_due") for i in range(12, 16))],
        days[3]: [sub(f"s{i}", f"c{i % 7}", "canceled") for i in range(10)] + everyone[10:20],
        days[4]: [*everyone[10:20], sub("s30", "c30", mrr="99.00")],
        days[5]: [sub(f"s{i}", f"c{i % 7}", plan="pro") for i in range(20)],
        days[6]: everyone[:2],
    }
    for day, rows in by_day.items():
        project.write_csv(day, rows)
    project.run(days[0], days[-1])
    windows = [(days[0], days[-1]), (days[2], days[3]), (days[3], days[3]), (days[-1], days[-1])]
    for window in [*windows, None]:
        for max_drop in (-1.0, 0.0, 0.3):  # -1: every pair is a finding, so every count shows
            project.settings = replace(project.settings, active_drop_warning=max_drop)
            from_versions = check_findings(project, "active_subscription_drops", window)
            row_by_row = check_findings(project, "lake/check_active_subscription_drops", window)
            assert from_versions == row_by_row, (window, max_drop)
    project.settings = replace(project.settings, active_drop_warning=-1.0)
    every_pair = check_findings(project, "active_subscription_drops", (days[0], days[-1]))
    assert [(row[1], row[3]) for row in every_pair] == [
        (days[1], 12),
        (days[2], 16),
        (days[3], 10),
        (days[4], 11),
        (days[5], 20),
        (days[6], 2),
    ]


def test_key_violations_are_found_in_the_checked_dates_only(project: Project) -> None:
    for day in (FIRST, SECOND, THIRD):
        project.write_csv(day, [sub("s1", "c1"), sub("s2", "c2")])
    project.run(FIRST, THIRD)
    assert check_findings(project, "snapshot_key_violations", (FIRST, THIRD)) == []
    # ingestion quarantines both problems, so they are written past it, as a bug would: a
    # second version of s1, with an empty customer, overlapping the first on the second day
    with duckdb.connect(str(project.settings.warehouse_path)) as conn:
        conn.execute(
            "insert into raw.subscription_changes select * replace ("
            "'' as customer_id, cast($day as date) as changed_on, cast($next as date) as valid_until) "
            "from raw.subscription_changes where subscription_id = 's1'",
            {"day": SECOND, "next": THIRD},
        )
    assert check_findings(project, "snapshot_key_violations", (FIRST, THIRD)) == [
        (SECOND, "s1", "empty key"),
        (SECOND, "s1", "subscription_id listed 2 times"),
    ]
    assert check_findings(project, "snapshot_key_violations", (SECOND, SECOND)) != []
    assert check_findings(project, "snapshot_key_violations", (THIRD, THIRD)) == []
    assert check_findings(project, "snapshot_key_violations", (FIRST, FIRST)) == []
    # lake mode's query reads every row (here: the view's) and finds the same
    for window in ((FIRST, THIRD), (SECOND, SECOND), (THIRD, THIRD), (FIRST, FIRST)):
        assert check_findings(project, "lake/check_snapshot_key_violations", window) == (
            check_findings(project, "snapshot_key_violations", window)
        )
