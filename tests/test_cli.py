"""The `churn-pipeline` command as a user runs it: real processes, real files, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from churn_pipeline.dagster_event_log import BatchedSqliteEventLogStorage

CLI = Path(sys.executable).with_name("churn-pipeline")


@dataclass
class Env:
    root: Path
    env: dict[str, str]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(CLI), *args], env=self.env, capture_output=True, text=True, timeout=300
        )
        if check:
            assert result.returncode == 0, result.stderr
        return result


def make_env(root: Path) -> Env:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHURN_", "DAGSTER_"))}
    env.update(
        CHURN_LANDING_DIR=str(root / "landing"),
        CHURN_WAREHOUSE=str(root / "warehouse.duckdb"),
        DAGSTER_HOME=str(root / "dagster_home"),
    )
    return Env(root, env)


@pytest.fixture(scope="module")
def after_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Env, subprocess.CompletedProcess[str]]:
    cli = make_env(tmp_path_factory.mktemp("cli"))
    cli.run("demo-data", "--customers", "150", "--days", "71", "--start", "2024-12-31")
    return cli, cli.run("run")


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert fragment in result.stderr, result.stderr


def test_run_prints_the_monthly_table_and_publishes(
    after_run: tuple[Env, subprocess.CompletedProcess[str]],
) -> None:
    cli, result = after_run
    assert "Churn by month" in result.stdout and "2025-02-01" in result.stdout
    assert "Churn reasons, last complete month" in result.stdout
    assert (cli.root / "published" / "reporting.duckdb").is_file()
    assert (cli.root / "published" / "parquet" / "churn_by_period.parquet").is_file()
    assert (cli.root / "dagster_home" / "dagster.yaml").is_file()


def test_runs_are_recorded_in_dagster_home(
    after_run: tuple[Env, subprocess.CompletedProcess[str]],
) -> None:
    cli, _ = after_run
    with dg.DagsterInstance.from_config(str(cli.root / "dagster_home")) as instance:
        assert isinstance(instance.event_log_storage, BatchedSqliteEventLogStorage)
        runs = instance.get_runs()
        assert runs and runs[0].job_name == "churn_pipeline_job"
        assert runs[0].status == dg.DagsterRunStatus.SUCCESS
        assert runs[0].tags["dagster/asset_partition_range_end"] == "2025-03-11"
        key = dg.AssetKey(["reporting", "churn_by_period"])
        assert instance.get_latest_materialization_event(key) is not None
        # the ranged run's per-partition events, stored as batches
        snapshots = dg.AssetKey(["raw", "subscription_snapshots"])
        materialized = instance.get_materialized_partitions(snapshots)
        assert len(materialized) == 71 and "2025-03-11" in materialized


def test_query_formats(after_run: tuple[Env, subprocess.CompletedProcess[str]]) -> None:
    cli, _ = after_run
    sql = "select grain, count(*) as periods from reporting.churn_by_period group by grain order by grain"
    as_json = json.loads(cli.run("query", sql, "--format", "json").stdout)
    assert {row["grain"] for row in as_json} == {
        "day",
        "week",
        "month",
        "quarter",
        "half_year",
        "year",
    }
    as_csv = cli.run("query", sql, "--format", "csv").stdout.splitlines()
    assert as_csv[0] == "grain,periods" and len(as_csv) == 7
    assert "month" in cli.run("query", sql).stdout
    # NULLs of integer columns and plain dates print as such in the table format
    table = cli.run(
        "query",
        "select cast(null as bigint) as no_value, date '2025-01-31' as a_day, 7 as seven",
    ).stdout
    assert "2025-01-31" in table and "00:00:00" not in table and "<NA>" not in table


@pytest.mark.parametrize(
    ("sql", "fragment"),
    [
        ("delete from reporting.churn_by_period", "only read-only queries are allowed"),
        ("copy (select 1) to '/tmp/leak.csv'", "only read-only queries are allowed"),
        ("select * from read_csv('/etc/passwd')", "disabled"),
        ("select 1; select 2", "exactly one statement"),
        ("selec 1", "SQL does not parse"),
        ("select * from reporting.nope", "reporting.churn_by_period"),
    ],
)
def test_query_refuses_writes_and_explains_errors(
    after_run: tuple[Env, subprocess.CompletedProcess[str]], sql: str, fragment: str
) -> None:
    cli, _ = after_run
    assert_one_line_error(cli.run("query", sql, check=False), fragment)


def test_report_for_another_grain(after_run: tuple[Env, subprocess.CompletedProcess[str]]) -> None:
    cli, _ = after_run
    out = cli.run("report", "--grain", "quarter").stdout
    assert "Churn by quarter" in out and "2025-01-01 *" in out


def test_report_writes_the_html_page(
    after_run: tuple[Env, subprocess.CompletedProcess[str]],
) -> None:
    cli, _ = after_run
    target = cli.root / "out.html"
    out = cli.run("report", "--html", str(target)).stdout
    assert "wrote the visual report" in out
    page = target.read_text(encoding="utf-8")
    assert 'data-metric="logo_churn_rate"' in page and "<script" in page
    assert (cli.root / "published" / "report.html").is_file()  # the nightly asset refreshes it too


def test_user_errors_are_one_line(tmp_path: Path) -> None:
    cli = make_env(tmp_path)
    assert_one_line_error(cli.run("run", check=False), "is empty or missing")
    assert_one_line_error(cli.run("query", "select 1", check=False), "no published outputs")
    assert_one_line_error(
        cli.run("backfill", "--start", "2025-13-01", "--end", "2025-01-02", check=False),
        "not a date",
    )
    # an instance that cannot be opened (here a Postgres nobody listens on) is the user's to fix
    cli.run("demo-data", "--customers", "20", "--days", "3")
    home = cli.root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "storage:\n  postgres:\n    postgres_db:\n      hostname: 127.0.0.1\n      port: 9\n"
        "      username: nobody\n      password: ''\n      db_name: nothing\n"
        "      scheme: postgresql+psycopg2\n",
        encoding="utf-8",
    )
    assert_one_line_error(cli.run("run", check=False), "cannot open the Dagster instance in")
    bad_flag = cli.run("report", "--grain", "fortnight", check=False)
    assert bad_flag.returncode == 2 and "Traceback" not in bad_flag.stderr
    assert "Invalid value for '--grain'" in bad_flag.stderr
    cli.env["CHURN_TIMEZONE"] = "Mars/Olympus"
    assert_one_line_error(cli.run("run", check=False), "CHURN_TIMEZONE='Mars/Olympus'")


def test_bad_input_file_fails_without_traceback(tmp_path: Path) -> None:
    cli = make_env(tmp_path)
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "2025-01-01.csv").write_text("subscription_id,status\ns1,active\n")
    assert_one_line_error(
        cli.run("run", check=False), "required column(s) customer_id, mrr missing"
    )
