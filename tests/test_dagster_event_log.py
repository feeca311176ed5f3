"""The batched SQLite event log stores what Dagster's own SQLite event log stores."""

import os
import shutil
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.errors import DagsterInvariantViolationError

from churn_pipeline.dagster_event_log import enable_event_batches
from churn_pipeline.settings import PROJECT_ROOT

PARTITIONS = dg.DailyPartitionsDefinition(start_date="2025-01-01", end_date="2025-01-21")
KEYS = PARTITIONS.get_partition_keys()


@dg.asset(partitions_def=PARTITIONS, backfill_policy=dg.BackfillPolicy.single_run())
def upstream(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    last = context.partition_key_range.end
    return dg.MaterializeResult(metadata={"last": last}, data_version=dg.DataVersion(last))


@dg.asset(
    partitions_def=PARTITIONS, backfill_policy=dg.BackfillPolicy.single_run(), deps=[upstream]
)
def downstream(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"partitions": len(context.partition_keys)})


@dg.asset_check(asset=upstream)
def upstream_has_rows() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True, metadata={"rows": 1})


# The run's planned events then mix asset and asset-check events in one batch.
JOB = dg.Definitions(
    assets=[upstream, downstream],
    asset_checks=[upstream_has_rows],
    jobs=[dg.define_asset_job("both", selection="*")],
).resolve_job_def("both")


def _run_twice(home: Path) -> dict[str, object]:
    """Two ranged runs (the second overlapping the first) and what the instance then says."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for first, last in ((KEYS[0], KEYS[14]), (KEYS[10], KEYS[-1])):
            result = JOB.execute_in_process(
                instance=instance,
                tags={
                    "dagster/asset_partition_range_start": first,
                    "dagster/asset_partition_range_end": last,
                },
            )
            assert result.success
        seen: dict[str, object] = {"storage": type(instance.event_log_storage).__name__}
        for asset in (upstream, downstream):
            key = asset.key
            records = instance.fetch_materializations(key, limit=1000).records
            seen[f"{key.to_user_string()} materializations"] = [
                (r.partition_key, r.asset_materialization.metadata) for r in records
            ]
            seen[f"{key.to_user_string()} partitions"] = sorted(
                instance.get_materialized_partitions(key)
            )
            planned = instance.get_event_records(
                dg.EventRecordsFilter(dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, key),
                limit=1000,
            )
            seen[f"{key.to_user_string()} planned"] = [r.partition_key for r in planned]
            latest = instance.get_latest_materialization_event(key)
            assert latest is not None and latest.dagster_event is not None
            seen[f"{key.to_user_string()} latest"] = latest.dagster_event.partition
        check_runs = instance.event_log_storage.get_asset_check_execution_history(
            upstream_has_rows.check_key, limit=1000
        )
        seen["check runs"] = [(run.status.value, run.evaluation is not None) for run in check_runs]
        versioned = instance.get_latest_data_version_record(upstream.key, partition_key=KEYS[3])
        materialization = versioned.asset_materialization if versioned else None
        seen["indexed tags"] = sorted(
            tag["dagster/data_version"] for tag in instance.get_event_tags_for_asset(upstream.key)
        )
        seen["tagged version"] = (
            (materialization.tags or {}).get("dagster/data_version") if materialization else None
        )
    return seen


def test_batched_event_log_stores_what_dagsters_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "10000")
    dagsters, ours = tmp_path / "dagster", tmp_path / "ours"
    dagsters.mkdir()
    (dagsters / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    ours.mkdir()
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", ours / "dagster.yaml")

    monkeypatch.setenv("DAGSTER_HOME", str(dagsters))
    expected = _run_twice(dagsters)
    monkeypatch.setenv("DAGSTER_HOME", str(ours))
    actual = _run_twice(ours)

    assert expected.pop("storage") == "SqliteEventLogStorage"
    assert actual.pop("storage") == "BatchedSqliteEventLogStorage"
    assert actual["upstream partitions"] == KEYS
    assert ("SUCCEEDED", True) in actual["check runs"]  # type: ignore[operator]
    assert actual["indexed tags"] == [KEYS[14]] * 15 + [KEYS[-1]] * 10
    assert len(actual["upstream materializations"]) == 15 + 10  # type: ignore[arg-type]
    assert actual["downstream planned"] and actual["tagged version"] == KEYS[14]
    assert actual == expected
    # ...and wrote them into the folders Dagster's own class reads
    assert (ours / "history" / "runs" / "index.db").is_file()


def test_an_instance_opened_from_another_folder_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))
    with pytest.raises(DagsterInvariantViolationError, match=r"set DAGSTER_HOME=.*home"):
        dg.DagsterInstance.from_config(str(home))


def test_event_batches_are_turned_on_for_this_storage_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE", raising=False)
    with dg.instance_for_test() as dagsters:  # Dagster's own SQLite class
        enable_event_batches(dagsters)
        assert "DAGSTER_EVENT_BATCH_SIZE" not in os.environ
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with dg.DagsterInstance.from_config(str(tmp_path)) as ours:
        enable_event_batches(ours)
        assert os.environ["DAGSTER_EVENT_BATCH_SIZE"] == "10000"
        monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "50")  # the user's choice stays
        enable_event_batches(ours)
        assert os.environ["DAGSTER_EVENT_BATCH_SIZE"] == "50"
