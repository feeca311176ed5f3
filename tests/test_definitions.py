"""The code location loads, in Python and through workspace.yaml as `dagster dev` loads it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg

from churn_pipeline.pipeline import ALL_ASSETS_JOB, build_definitions
from churn_pipeline.settings import PROJECT_ROOT, Settings

EXPECTED_ASSETS = {
    "raw/subscription_snapshots",
    "core/customer_movements",
    "core/churn_reason_categories",
    "core/daily_customer_totals",
    "reporting/customer_movements",
    "reporting/churn_by_period",
    "reporting/churn_reasons_by_period",
    "reporting/unmapped_reasons",
    "reporting/published_copy",
    "reporting/html_report",
    "reporting/kpis_by_period",
    "reporting/at_risk_customers",
    "core/customer_months",
    "core/churn_forecasts",
    "reporting/churn_by_tenure",
    "reporting/customer_survival",
    "reporting/churn_seasonality",
    "reporting/churn_forecast",
    "reporting/churn_forecast_backtest",
    "reporting/cohort_retention",
}


def test_asset_graph(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"CHURN_LANDING_DIR": str(tmp_path), "CHURN_WAREHOUSE": str(tmp_path / "w.duckdb")}
    )
    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    assert {k.to_user_string() for k in graph.get_all_asset_keys()} == EXPECTED_ASSETS
    # steps share one warehouse slot: no process per step
    assert defs.resolve_job_def(ALL_ASSETS_JOB).executor_def.name == "in_process"
    snapshots = graph.get(dg.AssetKey(["raw", "subscription_snapshots"]))
    assert isinstance(snapshots.partitions_def, dg.DailyPartitionsDefinition)
    assert snapshots.backfill_policy == dg.BackfillPolicy.single_run()
    checks = {k.name for k in graph.asset_check_keys}
    assert {
        "customer_identity",
        "mrr_bridge_identity",
        "rates_within_bounds",
        "reasons_reconcile_with_churn",
    } <= checks
    assert defs.resolve_job_def(ALL_ASSETS_JOB) is not None


def test_partitions_start_at_the_earliest_file(tmp_path: Path) -> None:
    (tmp_path / "2024-03-05.csv").write_text("x\n")
    (tmp_path / "snapshot_date=2024-03-02").mkdir()
    settings = Settings.from_env(
        {"CHURN_LANDING_DIR": str(tmp_path), "CHURN_TIMEZONE": "Europe/Warsaw"}
    )
    job = build_definitions(settings).resolve_job_def(ALL_ASSETS_JOB)
    assert job.partitions_def is not None
    assert job.partitions_def.get_partition_keys()[0] == "2024-03-02"
    assert job.partitions_def.timezone == "Europe/Warsaw"  # type: ignore[attr-defined]


def test_workspace_validates(tmp_path: Path) -> None:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "CHURN_LANDING_DIR": str(tmp_path)}
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All code locations passed validation" in result.stdout + result.stderr


def test_each_warehouse_table_depends_on_every_table_of_its_step_that_its_sql_reads() -> None:
    """The step builds tables side by side once their `deps` are built (marts.build_tables): a
    table whose SQL read another table of the step without naming it could read it stale or
    half-built."""
    from churn_pipeline.assets.marts import build_sql_tables

    tables = build_sql_tables()
    built = {table.table for table in tables}
    for table in tables:
        sql_names = set(table.steps)
        if table.incremental:
            sql_names |= {table.incremental.recompute, *table.incremental.merge}
        read = set()
        for name in sql_names:
            text = (PROJECT_ROOT / "sql" / f"{name}.sql").read_text(encoding="utf-8")
            read |= set(re.findall(r"\b((?:core|reporting)\.[a-z_]+)\b", text))
        depends_on = {".".join(dep.path) for dep in table.deps}
        assert (read & built) - {table.table} <= depends_on, table.table
        assert table.incremental is None or set(table.incremental.reads) <= depends_on
