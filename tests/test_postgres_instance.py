"""The Dagster instance on a real PostgreSQL server (deploy/postgres/dagster.yaml).

A CLI run records its run and events in Postgres; runs submitted to the queue are started by
the Dagster daemon, as on a cluster, and give the same tables as one CLI run on the same files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from churn_pipeline.demo_data import DemoSpec, write_demo_snapshots
from churn_pipeline.settings import PROJECT_ROOT
from tests.postgres_server import PostgresServer, postgres_server

BIN = Path(os.environ.get("VIRTUAL_ENV", PROJECT_ROOT / ".venv")) / "bin"
SPEC = DemoSpec(customers=150, days=24, start=date(2025, 1, 1), seed=4)
LAST_DAY = SPEC.start + timedelta(days=SPEC.days - 1)
DAEMON_TIMEOUT_SECONDS = 420
COMPARED = (
    "core.customer_movements",
    "reporting.churn_by_period",
    "reporting.churn_reasons_by_period",
    "reporting.cohort_retention",
)


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    with postgres_server() as running:
        yield running


def project_env(root: Path, server: PostgresServer, database: str) -> dict[str, str]:
    server.query(f"create database {database}")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "deploy" / "postgres" / "dagster.yaml", home / "dagster.yaml")
    write_demo_snapshots(root / "landing", SPEC)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHURN_", "DAGSTER_"))}
    env.update(
        server.env(),
        DAGSTER_PG_DB=database,
        DAGSTER_HOME=str(home),
        CHURN_LANDING_DIR=str(root / "landing"),
        CHURN_WAREHOUSE=str(root / "warehouse.duckdb"),
    )
    return env


def in_database(server: PostgresServer, database: str) -> PostgresServer:
    return PostgresServer(server.host, server.port, server.user, database, server.bin_dir)


def contents(warehouse: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return {
            table: conn.execute(
                f"select * {'exclude (computed_at)' if table == 'reporting.churn_by_period' else ''} "
                f"from {table} order by all"
            ).fetchall()
            for table in COMPARED
        }


@contextmanager
def running_daemon(env: dict[str, str], log: Path) -> Iterator[None]:
    # a file, not a pipe: the run workers inherit the daemon's output, and a pipe nobody reads
    # fills up and stops them mid-run
    with log.open("w") as output:
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            env=env, cwd=PROJECT_ROOT, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            yield
        finally:
            os.killpg(daemon.pid, 15)
            daemon.wait(timeout=60)


def wait_for_runs(database: PostgresServer, backfill: bool = False) -> list[str]:
    """The statuses of the instance's runs once all have finished (and, with `backfill`, once
    the backfill is done too), or as they are at the time limit."""
    deadline = time.monotonic() + DAEMON_TIMEOUT_SECONDS
    statuses: list[str] = []
    while time.monotonic() < deadline:
        statuses = database.query("select status from runs order by id").split("\n")
        runs_done = all(s in ("SUCCESS", "FAILURE", "CANCELED") for s in statuses if s)
        backfill_done = not backfill or database.query("select status from bulk_actions") not in (
            "REQUESTED",
            "CANCELING",
        )
        if runs_done and backfill_done and statuses != [""]:
            break
        time.sleep(2)
    return statuses


def latest_events(database: PostgresServer) -> str:
    return database.query(
        "select run_id, dagster_event_type, step_key from event_logs "
        "where dagster_event_type is not null order by id desc limit 8"
    )


@pytest.fixture(scope="module")
def cli_run(
    server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, PostgresServer]:
    root = tmp_path_factory.mktemp("postgres_cli")
    env = project_env(root, server, "cli_instance")
    result = subprocess.run(
        [str(BIN / "churn-pipeline"), "run"],
        env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return root, in_database(server, "cli_instance")


def test_cli_run_is_recorded_in_postgres(cli_run: tuple[Path, PostgresServer]) -> None:
    root, database = cli_run
    assert database.query("select status from runs") == "SUCCESS"
    materialized = int(
        database.query(
            "select count(*) from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION'"
        )
    )
    assert materialized >= SPEC.days  # one per daily partition, then each unpartitioned asset
    assert not (root / "dagster_home" / "history").exists()  # no SQLite run storage beside it
    assert contents(root / "warehouse.duckdb")["reporting.churn_by_period"]


def test_daemon_launches_queued_runs_with_the_same_result(
    server: PostgresServer, cli_run: tuple[Path, PostgresServer], tmp_path: Path
) -> None:
    cli_root, _ = cli_run
    env = project_env(tmp_path, server, "daemon_instance")
    database = in_database(server, "daemon_instance")
    middle = SPEC.start + timedelta(days=SPEC.days // 2)
    for first, last in ((SPEC.start, middle - timedelta(days=1)), (middle, LAST_DAY)):
        tags = {
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        }
        subprocess.run(
            [str(BIN / "dagster"), "job", "launch", "-w", "workspace.yaml",
             "-j", "churn_pipeline_job", "--tags", json.dumps(tags)],
            env=env, cwd=PROJECT_ROOT, check=True, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert database.query("select string_agg(status, ',') from runs") == "QUEUED,QUEUED"

    with running_daemon(env, tmp_path / "daemon.log"):
        statuses = wait_for_runs(database)
    assert statuses == ["SUCCESS", "SUCCESS"], (
        f"{statuses}; latest events:\n{latest_events(database)}"
    )
    # both were enqueued, then started by the daemon two at a time (max_concurrent_runs: 2): each
    # run started before the other finished; the warehouse pool ordered their writing steps
    events = database.query(
        "select dagster_event_type from event_logs where dagster_event_type in "
        "('PIPELINE_ENQUEUED', 'PIPELINE_STARTING', 'PIPELINE_SUCCESS') order by id"
    ).split("\n")
    assert events.count("PIPELINE_ENQUEUED") == 2
    assert events.index("PIPELINE_SUCCESS") > max(
        i for i, event in enumerate(events) if event == "PIPELINE_STARTING"
    ), events
    # two half-ranges, in whatever order the daemon ran them, equal one run over everything
    assert contents(tmp_path / "warehouse.duckdb") == contents(cli_root / "warehouse.duckdb")


def test_daemon_runs_a_lake_backfill_two_runs_at_a_time(
    server: PostgresServer, cli_run: tuple[Path, PostgresServer], tmp_path: Path
) -> None:
    cli_root, _ = cli_run
    env = project_env(tmp_path, server, "lake_instance")
    env.update(
        CHURN_STORAGE="lake", CHURN_LAKE_PATH=str(tmp_path / "lake"), CHURN_BACKFILL_RUN_DAYS="6"
    )
    database = in_database(server, "lake_instance")
    queued = subprocess.run(
        [str(BIN / "churn-pipeline"), "backfill", "--queue",
         "--start", SPEC.start.isoformat(), "--end", LAST_DAY.isoformat()],
        env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert queued.returncode == 0, queued.stderr[-3000:]
    assert "runs of 6 dates" in queued.stdout
    assert database.query("select status from bulk_actions") == "REQUESTED"

    with running_daemon(env, tmp_path / "daemon.log"):
        statuses = wait_for_runs(database, backfill=True)
    log_tail = (tmp_path / "daemon.log").read_text()[-3000:]
    assert database.query("select status from bulk_actions") == "COMPLETED_SUCCESS", log_tail
    # 24 dates in runs of 6, then one run of the unpartitioned assets over the whole lake
    assert statuses == ["SUCCESS"] * 5, f"{statuses}; latest events:\n{latest_events(database)}"
    # in flight: from the daemon launching the run (its process starting) to its success
    spans = [
        tuple(float(v) for v in line.split("|"))
        for line in database.query(
            "select extract(epoch from min(timestamp)), extract(epoch from max(timestamp)) "
            "from event_logs where dagster_event_type in ('PIPELINE_STARTING', 'PIPELINE_SUCCESS') "
            "and run_id in (select run_id from run_tags "
            "where key = 'dagster/asset_partition_range_start') group by run_id order by 1"
        ).split("\n")
    ]
    assert len(spans) == 4
    overlapping = [
        (a, b) for i, a in enumerate(spans) for b in spans[i + 1 :] if b[0] < a[1] and a[0] < b[1]
    ]
    assert overlapping, f"no two ingestion runs were in flight together: {spans}"
    assert contents(tmp_path / "warehouse.duckdb") == contents(cli_root / "warehouse.duckdb")
    dates = sorted((tmp_path / "lake" / "snapshot_deliveries").glob("snapshot_date=2025-*"))
    assert len(dates) == SPEC.days
