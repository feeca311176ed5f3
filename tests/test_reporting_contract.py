"""The published outputs: the documented contract, reads during a write, the Dagster UI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from churn_pipeline.demo_data import DemoSpec, write_demo_snapshots
from churn_pipeline.query import run_query
from churn_pipeline.settings import PROJECT_ROOT
from churn_pipeline.table_docs import documented_tables
from tests.conftest import Project

BIN = Path(sys.executable).parent
DUCKDB_TYPES = {
    "BIGINT": "BIGINT",
    "DOUBLE": "DOUBLE",
    "DATE": "DATE",
    "VARCHAR": "VARCHAR",
    "BOOLEAN": "BOOLEAN",
    "TIMESTAMP": "TIMESTAMP",
}


@pytest.fixture(scope="module")
def published(
    tmp_path_factory: pytest.TempPathFactory, module_instance: dg.DagsterInstance
) -> Project:
    project = Project(tmp_path_factory.mktemp("contract"), module_instance)
    write_demo_snapshots(
        project.landing, DemoSpec(customers=200, days=45, start=date(2025, 1, 1), seed=9)
    )
    project.run("2025-01-01", "2025-02-14")
    return project


def test_published_tables_have_exactly_the_documented_columns_and_types(published: Project) -> None:
    documented = documented_tables()
    assert set(documented) == {
        "reporting.churn_by_period", "reporting.churn_reasons_by_period", "reporting.customer_movements",
        "reporting.unmapped_reasons", "reporting.pipeline_runs",
        "reporting.kpis_by_period",
        "reporting.at_risk_customers",
        "reporting.churn_by_tenure", "reporting.customer_survival", "reporting.churn_seasonality",
        "reporting.churn_forecast", "reporting.churn_forecast_backtest",
        "reporting.cohort_retention",
    }  # fmt: skip
    tables = set(
        run_query(
            published.settings,
            "select table_name from duckdb_tables() where database_name = 'reporting'",
        )["table_name"]
    )
    assert tables == {name.split(".")[1] for name in documented} | {"publication"}
    for table, columns in documented.items():
        described = run_query(published.settings, f"describe {table}")
        actual = list(zip(described["column_name"], described["column_type"], strict=True))
        assert actual == [(c.name, DUCKDB_TYPES[c.type]) for c in columns], table
        assert all(c.description for c in columns)


def test_parquet_exports_match_the_published_tables(published: Project) -> None:
    parquet = published.settings.published_dir / "parquet"
    exported = {path.stem for path in parquet.glob("*.parquet")}
    # every documented table is exported (pipeline_runs too: it is mirrored into the copy)
    assert {name.split(".")[1] for name in documented_tables()} <= exported
    for table in sorted(exported - {"publication"}):
        rows = published.query(
            f"select count(*) from read_parquet('{parquet / (table + '.parquet')}')"
        )
        assert rows == published.query(f"select count(*) from reporting.{table}"), table


def test_column_schema_metadata_in_dagster(published: Project) -> None:
    event = published.instance.get_latest_materialization_event(
        dg.AssetKey(["reporting", "churn_by_period"])
    )
    assert event is not None and event.asset_materialization is not None
    schema = event.asset_materialization.metadata["dagster/column_schema"].value
    by_name = {c.name: c for c in schema.columns}
    assert "headline rate" in (by_name["logo_churn_rate"].description or "")
    assert by_name["mrr_end"].type == "BIGINT"


def test_query_works_while_a_writer_holds_the_warehouse(published: Project) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import duckdb, sys, time\n"
            f"c = duckdb.connect({str(published.settings.warehouse_path)!r})\n"
            "c.begin(); c.execute('delete from reporting.churn_by_period')\n"
            "print('holding', flush=True); time.sleep(60)\n"
        )],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        env = {
            **os.environ,
            "CHURN_WAREHOUSE": str(published.settings.warehouse_path),
            "CHURN_LANDING_DIR": str(published.landing),
        }
        result = subprocess.run(
            [str(BIN / "churn-pipeline"), "query", "select count(*) as n from reporting.churn_by_period", "--format", "json"],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)[0]["n"] > 0
        assert "published" in result.stderr
    finally:
        holder.kill()
        holder.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_dagster_webserver_lists_every_asset(published: Project, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path),
        "CHURN_LANDING_DIR": str(published.landing),
        "CHURN_WAREHOUSE": str(published.settings.warehouse_path),
    }
    server = subprocess.Popen(
        [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        query = json.dumps({"query": "{ assetNodes { assetKey { path } } }"}).encode()
        deadline = time.monotonic() + 120
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/graphql",
                    data=query,
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=10) as response:
                    payload = json.loads(response.read())
                nodes = payload["data"]["assetNodes"]
                if nodes:
                    break
            except (OSError, KeyError, TypeError):
                pass
            assert time.monotonic() < deadline, "the webserver did not answer within 120 s"
            time.sleep(1)
        keys = {"/".join(node["assetKey"]["path"]) for node in nodes}
        assert {"raw/subscription_snapshots", "core/customer_movements", "reporting/churn_by_period",
                "reporting/churn_reasons_by_period", "reporting/published_copy"} <= keys  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)
