"""Nightly schedule, file sensor, run log, concurrent runs and a run killed mid-write."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest

from churn_pipeline.assets.automation import LANDING_SENSOR, NIGHTLY_SCHEDULE
from churn_pipeline.demo_data import DemoSpec, write_demo_snapshots
from churn_pipeline.pipeline import build_definitions
from churn_pipeline.query import run_query
from churn_pipeline.runs import RunFailedError
from churn_pipeline.settings import Settings
from churn_pipeline.warehouse import WarehouseMemoryError, open_warehouse
from tests.conftest import Project, sub

CLI = Path(sys.executable).with_name("churn-pipeline")
BERLIN = ZoneInfo("Europe/Berlin")


def berlin_settings(tmp_path: Path) -> Settings:
    return Settings.from_env(
        {
            "CHURN_LANDING_DIR": str(tmp_path),
            "CHURN_TIMEZONE": "Europe/Berlin",
            "CHURN_START_DATE": "2024-01-01",
        }
    )


@pytest.mark.parametrize(
    ("tick", "expected_partition"),
    [
        (datetime(2025, 1, 1, 3, 0, tzinfo=BERLIN), "2024-12-31"),  # across midnight and a year end
        (datetime(2025, 3, 1, 3, 0, tzinfo=BERLIN), "2025-02-28"),  # month end
        (datetime(2024, 3, 1, 3, 0, tzinfo=BERLIN), "2024-02-29"),  # leap day
        (datetime(2025, 3, 30, 3, 0, tzinfo=BERLIN), "2025-03-29"),  # clocks jump 02:00 → 03:00
        (
            datetime(2025, 10, 26, 3, 0, tzinfo=BERLIN),
            "2025-10-25",
        ),  # clocks fall back 03:00 → 02:00
    ],
)
def test_nightly_schedule_requests_yesterday_in_the_business_time_zone(
    tmp_path: Path, tick: datetime, expected_partition: str
) -> None:
    defs = build_definitions(berlin_settings(tmp_path))
    schedule = defs.resolve_schedule_def(NIGHTLY_SCHEDULE)
    assert schedule.execution_timezone == "Europe/Berlin"
    assert schedule.cron_schedule == "0 3 * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    with dg.instance_for_test() as instance:
        result = schedule.evaluate_tick(
            dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
        )
    assert [r.partition_key for r in result.run_requests or []] == [expected_partition]


def test_nightly_time_is_a_setting(tmp_path: Path) -> None:
    settings = Settings.from_env({"CHURN_LANDING_DIR": str(tmp_path), "CHURN_NIGHTLY_AT": "05:45"})
    assert (
        build_definitions(settings).resolve_schedule_def(NIGHTLY_SCHEDULE).cron_schedule
        == "45 5 * * *"
    )


def sensor_requests(
    defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None
) -> tuple[list[tuple[str, str]], str | None]:
    sensor = defs.resolve_sensor_def(LANDING_SENSOR)
    result = sensor.evaluate_tick(
        dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
    )
    ranges = [
        (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
        for r in result.run_requests or []
    ]
    return ranges, result.cursor


def test_sensor_requests_exactly_the_new_or_changed_dates(tmp_path: Path) -> None:
    project_settings = berlin_settings(tmp_path)
    for day in ("2025-01-01", "2025-01-02", "2025-01-03", "2025-01-06"):
        (tmp_path / f"{day}.csv").write_text(
            "subscription_id,customer_id,status,mrr\ns,c,active,1\n"
        )
    defs = build_definitions(project_settings)
    with dg.instance_for_test() as instance:
        first, cursor = sensor_requests(defs, instance, None)
        assert first == [("2025-01-01", "2025-01-03"), ("2025-01-06", "2025-01-06")]
        again, cursor = sensor_requests(defs, instance, cursor)
        assert again == []  # nothing twice
        resent = tmp_path / "2025-01-02.csv"
        resent.write_text("subscription_id,customer_id,status,mrr\ns,c,active,2\n")
        os.utime(resent, ns=(time.time_ns(), time.time_ns() + 10**9))
        (tmp_path / "2025-01-04.csv").write_text(
            "subscription_id,customer_id,status,mrr\ns,c,active,1\n"
        )
        changed, cursor = sensor_requests(defs, instance, cursor)
        assert changed == [("2025-01-02", "2025-01-02"), ("2025-01-04", "2025-01-04")]
        assert sorted(json.loads(cursor or "{}")) == [
            "2025-01-01",
            "2025-01-02",
            "2025-01-03",
            "2025-01-04",
            "2025-01-06",
        ]


def test_failed_run_is_recorded_beside_the_last_good_tables(project: Project) -> None:
    project.write_csv("2025-01-01", [sub("a", "c1")])
    project.run("2025-01-01", "2025-01-01")
    (project.landing / "2025-01-02.csv").write_text("subscription_id,customer_id\nx,y\n")
    with pytest.raises(RunFailedError, match="required column"):
        project.run("2025-01-01", "2025-01-02")
    runs = project.query(
        "select status, window_start, window_end, error from reporting.pipeline_runs order by started_at"
    )
    assert [r[:3] for r in runs] == [
        ("SUCCESS", date(2025, 1, 1), date(2025, 1, 1)),
        ("FAILURE", date(2025, 1, 1), date(2025, 1, 2)),
    ]
    assert "2025-01-02.csv: required column(s) status, mrr missing" in runs[1][3]
    published = run_query(
        project.settings, "select status, error from reporting.pipeline_runs order by started_at"
    )
    assert list(published["status"]) == ["SUCCESS", "FAILURE"]
    assert (
        len(
            run_query(
                project.settings, "select * from reporting.churn_by_period where grain = 'day'"
            )
        )
        == 0
    )


def test_running_out_of_memory_names_the_setting_to_raise(project: Project) -> None:
    project.write_csv("2025-01-01", [sub("a", "c1")])
    project.run("2025-01-01", "2025-01-01")
    small = replace(project.settings, duckdb_memory_limit="16MB", duckdb_threads=1)
    refused = pytest.raises(WarehouseMemoryError, match=r"CHURN_DUCKDB_MEMORY_LIMIT=16MB allows")
    with refused, open_warehouse(small) as conn:  # a list of ten million values cannot spill
        conn.execute("select len(list(range)) from range(10000000)").fetchall()
    assert project.query("select count(*) from raw.subscription_snapshots") == [(1,)]


def cli_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHURN_", "DAGSTER_"))}
    env.update(
        CHURN_LANDING_DIR=str(root / "landing"),
        CHURN_WAREHOUSE=str(root / "warehouse.duckdb"),
        DAGSTER_HOME=str(root / "dagster_home"),
    )
    return env


def reporting_contents(warehouse: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return {
            # computed_at records when values were computed, which differs between projects
            table: conn.execute(
                f"select * exclude (computed_at) from {table} order by all"
            ).fetchall()
            if table == "reporting.churn_by_period"
            else conn.execute(f"select * from {table} order by all").fetchall()
            for table in (
                "core.customer_movements",
                "reporting.churn_by_period",
                "reporting.churn_reasons_by_period",
            )
        }


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoSpec, dict[str, list[tuple]]]:
    root = tmp_path_factory.mktemp("clean")
    spec = DemoSpec(customers=2500, days=200, start=date(2024, 6, 1), seed=11)
    write_demo_snapshots(root / "landing", spec)
    subprocess.run(
        [str(CLI), "run"], env=cli_env(root), check=True, capture_output=True, timeout=600
    )
    return spec, reporting_contents(root / "warehouse.duckdb")


def test_two_runs_started_together_both_succeed(
    tmp_path: Path, clean_run: tuple[DemoSpec, dict]
) -> None:
    spec, expected = clean_run
    write_demo_snapshots(tmp_path / "landing", spec)
    env = cli_env(tmp_path)
    runs = [
        subprocess.Popen(
            [str(CLI), "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outcomes = [run.communicate(timeout=900) for run in runs]
    for run, (_, stderr) in zip(runs, outcomes, strict=True):
        assert run.returncode == 0, stderr
        assert "Traceback" not in stderr
    assert reporting_contents(tmp_path / "warehouse.duckdb") == expected


def test_a_run_killed_mid_write_heals_on_the_next_run(
    tmp_path: Path, clean_run: tuple[DemoSpec, dict]
) -> None:
    spec, expected = clean_run
    write_demo_snapshots(tmp_path / "landing", spec)
    env = cli_env(tmp_path)
    warehouse = tmp_path / "warehouse.duckdb"
    victim = subprocess.Popen(
        [str(CLI), "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while (
        not Path(f"{warehouse}.wal").exists() and time.monotonic() < deadline
    ):  # a write is under way
        time.sleep(0.05)
    time.sleep(0.3)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL
    # whatever the kill interrupted, no table is half-written: rows and deliveries agree
    with duckdb.connect(str(warehouse)) as conn:
        tables = {
            r[0]
            for r in conn.execute(
                "select schema_name || '.' || table_name from duckdb_tables()"
            ).fetchall()
        }
        if "raw.snapshot_deliveries" in tables:
            loaded = conn.execute(
                "select coalesce(sum(rows_loaded), 0) from raw.snapshot_deliveries"
            ).fetchone()
            rows = conn.execute("select count(*) from raw.subscription_snapshots").fetchone()
            assert loaded == rows
    healed = subprocess.run([str(CLI), "run"], env=env, capture_output=True, text=True, timeout=600)
    assert healed.returncode == 0, healed.stderr
    assert reporting_contents(warehouse) == expected
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        runs = conn.execute(
            "select status, error from reporting.pipeline_runs order by started_at"
        ).fetchall()
    assert [r[0] for r in runs] == ["FAILURE", "SUCCESS"]
    assert "died; its pool slots were freed" in runs[0][1]
