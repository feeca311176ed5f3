"""The whole pipeline on generated demo data: identities, re-runs, ranged vs daily runs."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from churn_pipeline import movements, warehouse
from churn_pipeline.demo_data import DemoSpec, write_demo_snapshots
from churn_pipeline.runs import RunFailedError
from tests.conftest import Project, sub

SPEC = DemoSpec(customers=400, days=75, start=date(2024, 12, 20), seed=3)
LAST_DAY = SPEC.start + timedelta(days=SPEC.days - 1)
COMPARED = (
    "raw.subscription_snapshots",
    "raw.snapshot_deliveries",
    "core.customer_movements",
    "core.customer_first_activation",
    "reporting.customer_movements",
    "reporting.churn_by_period",
    "reporting.churn_reasons_by_period",
    "core.customer_months",
    "reporting.cohort_retention",
)


def contents(project: Project) -> dict[str, list[tuple]]:
    exclude = {
        "raw.snapshot_deliveries": " exclude (ingested_at, source_files)",
        "raw.subscription_snapshots": " exclude (source_file)",
        "reporting.churn_by_period": " exclude (computed_at)",
    }
    return {
        t: project.query(f"select *{exclude.get(t, '')} from {t} order by all") for t in COMPARED
    }


def demo_project(root: Path, instance: dg.DagsterInstance) -> Project:
    project = Project(root, instance)
    write_demo_snapshots(project.landing, SPEC)
    return project


@pytest.fixture(scope="module")
def demo_run(
    tmp_path_factory: pytest.TempPathFactory, module_instance: dg.DagsterInstance
) -> Project:
    project = demo_project(tmp_path_factory.mktemp("demo_run"), module_instance)
    project.run(SPEC.start, LAST_DAY)
    return project


def test_identities_hold_on_every_row_of_every_grain(demo_run: Project) -> None:
    rows = demo_run.query_dicts("select * from reporting.churn_by_period")
    assert {r["grain"] for r in rows} == {"day", "week", "month", "quarter", "half_year", "year"}
    assert sum(r["churned_customers"] for r in rows if r["grain"] == "day") > 20
    for r in rows:
        assert (
            r["customers_end"]
            == r["customers_start"]
            + r["new_customers"]
            + r["reactivated_customers"]
            - r["churned_customers"]
        ), r
        assert r["mrr_end"] == (
            r["mrr_start"]
            + r["new_mrr"]
            + r["reactivation_mrr"]
            + r["expansion_mrr"]
            - r["contraction_mrr"]
            - r["churned_mrr"]
        ), r
        assert r["churned_from_start"] <= r["churned_distinct"] <= r["churned_customers"]
        if r["logo_churn_rate"] is not None:
            assert 0 <= r["logo_churn_rate"] <= 1 and 0 <= r["grr"] <= 1


def test_period_end_states_match_a_direct_count_of_the_snapshot(demo_run: Project) -> None:
    """customers_end of the last month equals the active customers counted straight from the file."""
    direct = demo_run.query(
        """
        select count(distinct customer_id), sum(mrr_cents) filter (where status in ('active', 'past_due'))
        from raw.subscription_snapshots
        where snapshot_date = $day and status in ('active', 'past_due') and mrr_cents > 0
        """,
        {"day": LAST_DAY},
    )[0]
    held_only = demo_run.query(
        """
        select count(*) from (
            select customer_id from raw.subscription_snapshots where snapshot_date = $day
            group by customer_id
            having bool_or(status = 'paused') and not bool_or(status in ('active', 'past_due') and mrr_cents > 0)
                and customer_id in (select customer_id from core.customer_first_activation)
        )
        """,
        {"day": LAST_DAY},
    )[0][0]
    month = demo_run.period("month", LAST_DAY.replace(day=1).isoformat())
    assert month["customers_end"] == direct[0] + held_only
    assert month["mrr_end"] == direct[1]


def test_rerunning_everything_gives_identical_tables(demo_run: Project) -> None:
    before = contents(demo_run)
    demo_run.run(SPEC.start, LAST_DAY)
    assert contents(demo_run) == before


def test_ranged_run_equals_day_by_day_runs(
    demo_run: Project, tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    daily = demo_project(tmp_path, instance)
    first_days_end = LAST_DAY - timedelta(days=14)
    daily.run(SPEC.start, first_days_end)
    day = first_days_end + timedelta(days=1)
    while day <= LAST_DAY:
        daily.run(day, day)
        day += timedelta(days=1)
    assert contents(daily) == contents(demo_run)


def every_built_table(project: Project) -> dict[str, list[tuple]]:
    """Every core and reporting table but the build, schema and run records, without the column
    that records when a row was computed."""
    names = project.query(
        "select schema_name || '.' || table_name from duckdb_tables() "
        "where schema_name in ('core', 'reporting') "
        "and table_name not in ('mart_build_inputs', 'schema_fingerprint', 'pipeline_runs') "
        "order by 1"
    )
    volatile = {"reporting.churn_by_period": " exclude (computed_at)"}
    return {
        name: project.query(f"select *{volatile.get(name, '')} from {name} order by all")
        for (name,) in names
    }


def test_tables_built_side_by_side_equal_those_built_one_at_a_time(
    demo_run: Project, tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    """With two DuckDB threads (the default) the warehouse tables are built two at a time
    (marts.build_tables); with one, one after another, in dependency order."""
    assert demo_run.settings.duckdb_threads == 2
    one_at_a_time = demo_project(tmp_path, instance)
    one_at_a_time.settings = replace(one_at_a_time.settings, duckdb_threads=1)
    one_at_a_time.run(SPEC.start, LAST_DAY)
    side_by_side = every_built_table(demo_run)
    assert len(side_by_side) >= 18 and side_by_side["core.churn_forecasts"]
    assert every_built_table(one_at_a_time) == side_by_side


@pytest.mark.parametrize(
    ("window_days", "window_change_rows"),
    [(7, 0), (1, 120)],
    ids=["windows_of_7_days", "windows_of_120_changes"],
)
def test_movements_derived_in_short_windows_equal_one_window(
    demo_run: Project,
    tmp_path: Path,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
    window_days: int,
    window_change_rows: int,
) -> None:
    # with grace days, past-due spells that cross a window's edge decide when customers stop
    (tmp_path / "one").mkdir()
    (tmp_path / "windowed").mkdir()
    one_window = demo_project(tmp_path / "one", instance)
    windowed = demo_project(tmp_path / "windowed", instance)
    for project in (one_window, windowed):
        project.settings = replace(project.settings, past_due_grace_days=3)
    assert SPEC.days < movements.WINDOW_DAYS
    one_window.run(SPEC.start, LAST_DAY)
    monkeypatch.setattr(movements, "WINDOW_DAYS", window_days)
    monkeypatch.setattr(movements, "WINDOW_CHANGE_ROWS", window_change_rows)
    derive_window = movements._derive_window
    windows: list[tuple[date, date]] = []

    def recorded(*args: Any) -> tuple[int, dict[str, int]]:
        windows.append((args[3], args[4]))
        return derive_window(*args)

    monkeypatch.setattr(movements, "_derive_window", recorded)
    windowed.run(SPEC.start, LAST_DAY)
    assert contents(windowed) == contents(one_window)
    assert (
        contents(one_window)["core.customer_movements"]
        != contents(demo_run)["core.customer_movements"]
    )  # the grace days changed some movements
    assert len(windows) >= 5
    for (start, end), (next_start, _) in pairwise(windows):
        assert next_start == end + timedelta(days=1)
        changes = windowed.query(
            "select count(*) from raw.subscription_changes where changed_on between $start and $end",
            {"start": start, "end": end},
        )[0][0]
        if window_change_rows:  # as many days as the budget holds: one more would exceed it
            with_one_more_day = windowed.query(
                "select count(*) from raw.subscription_changes where changed_on between $start and $end",
                {"start": start, "end": end + timedelta(days=1)},
            )[0][0]
            assert (end - start).days + 1 == window_days or changes <= window_change_rows
            assert with_one_more_day > window_change_rows
        else:
            assert (end - start).days + 1 == window_days


def test_a_derivation_killed_between_windows_heals_on_the_next_run(
    demo_run: Project, tmp_path: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    killed = demo_project(tmp_path, instance)
    monkeypatch.setattr(movements, "WINDOW_DAYS", 10)
    monkeypatch.setattr(movements, "WINDOW_CHANGE_ROWS", 0)
    derive_window = movements._derive_window
    windows_derived: list[date] = []

    def killed_after_three_windows(*args: Any) -> tuple[int, dict[str, int]]:
        if len(windows_derived) == 3:
            raise RuntimeError("killed between two windows")
        windows_derived.append(args[3])
        return derive_window(*args)

    monkeypatch.setattr(movements, "_derive_window", killed_after_three_windows)
    with pytest.raises(RunFailedError, match="killed between two windows"):
        killed.run(SPEC.start, LAST_DAY)
    derived_up_to = windows_derived[-1] + timedelta(days=9)
    assert (
        killed.query("select max(observed_on) from core.customer_movements")[0][0] <= derived_up_to
    )
    assert killed.query("select max(snapshot_date) from core.movement_inputs") == [(derived_up_to,)]

    monkeypatch.setattr(movements, "_derive_window", derive_window)
    killed.run(LAST_DAY, LAST_DAY)  # a nightly run: it continues from the first underived day
    assert contents(killed) == contents(demo_run)


def test_late_and_corrected_days_converge_to_a_from_scratch_run(
    demo_run: Project, tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    late = demo_project(tmp_path, instance)
    held_back = sorted(late.landing.glob("2025-01-1*.csv"))
    stash = tmp_path / "stash"
    stash.mkdir()
    for path in held_back:
        path.rename(stash / path.name)
    late.run(SPEC.start, LAST_DAY)  # those days are gaps for now
    for path in held_back:  # they arrive late, out of order
        (stash / path.name).rename(path)
    for path in reversed(held_back):
        day = date.fromisoformat(path.stem)
        late.run(day, day)
    assert contents(late) == contents(demo_run)


def test_reason_shares_sum_to_one_and_reconcile(demo_run: Project) -> None:
    rows = demo_run.query(
        """
        select r.grain, r.period_start, sum(r.share_of_churned_customers), sum(r.share_of_churned_mrr),
               sum(r.churned_customers), any_value(p.churned_customers), sum(r.churned_mrr), any_value(p.churned_mrr)
        from reporting.churn_reasons_by_period r
        join reporting.churn_by_period p using (grain, period_start)
        group by all
        """
    )
    assert len(rows) >= 20
    for (
        grain,
        start,
        customer_share,
        mrr_share,
        customers,
        expected_customers,
        mrr,
        expected_mrr,
    ) in rows:
        assert customer_share == pytest.approx(1.0), (grain, start)
        assert mrr_share == pytest.approx(1.0), (grain, start)
        assert (customers, mrr) == (expected_customers, expected_mrr), (grain, start)
    categories = {
        r[0]
        for r in demo_run.query(
            "select distinct reason_category from reporting.churn_reasons_by_period"
        )
    }
    assert len(categories) >= 4


def test_cohort_cells_add_up_to_the_period_end_state(demo_run: Project) -> None:
    """Every active customer is in exactly one cohort: per month, the cohorts' cells sum to
    churn_by_period's customers_end and mrr_end (reporting.cohort_retention)."""
    rows = demo_run.query(
        """
        with cohort_sums as (
            select period_start, sum(active_customers) as active, sum(mrr) as mrr,
                   bool_and(active_customers <= cohort_customers) as bounded
            from reporting.cohort_retention
            where cohort_grain = 'month'
            group by period_start
        )
        select p.period_start, p.is_complete, p.customers_end, s.active, p.mrr_end, s.mrr, s.bounded
        from reporting.churn_by_period p
        left join cohort_sums s using (period_start)
        where p.grain = 'month'
        order by p.period_start
        """
    )
    assert sum(1 for r in rows if r[1]) >= 2  # complete months
    for start, _, customers_end, active, mrr_end, mrr, bounded in rows:
        assert (active, mrr, bounded) == (customers_end, mrr_end, True), start
    cohorts = demo_run.query(
        "select count(distinct cohort) from reporting.cohort_retention where cohort_grain = 'month'"
    )
    assert cohorts[0][0] >= 4  # the opening base and the months since the first snapshot


def test_a_release_that_changes_the_movement_sql_re_derives_the_whole_log(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    (tmp_path / "project").mkdir()
    project = Project(tmp_path / "project", instance)
    for day in ("2025-03-01", "2025-03-02", "2025-03-03"):
        project.write_csv(day, [sub("s1", "c1")])
    project.run("2025-03-01", "2025-03-03")
    release = tmp_path / "release_sql"
    shutil.copytree(project.settings.sql_dir, release)
    changed = release / "core" / "window_churn_details.sql"
    changed.write_text(changed.read_text(encoding="utf-8") + "\n-- a fixed rule\n", "utf-8")
    with warehouse.open_warehouse(project.settings) as conn:
        assert movements.derive_movements(conn, project.settings).recomputed_from is None
        upgraded = replace(project.settings, sql_dir=release)
        assert movements.derive_movements(conn, upgraded).recomputed_from == date(2025, 3, 1)
        assert movements.derive_movements(conn, upgraded).recomputed_from is None
