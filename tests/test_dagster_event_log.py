"""The batched SQLite event log stores what Dagster's own SQLite event log stores."""

import contextlib
import os
import shutil
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy
from dagster._core.event_api import EventLogRecord
from dagster._core.storage.event_log import SqlEventLogStorage
from dagster._serdes import deserialize_value
from sqlalchemy.engine import Engine

from churn_pipeline import dagster_event_log
from churn_pipeline.dagster_event_log import BatchedSqliteEventLogStorage, enable_event_batches
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


def _asset_entries(instance: dg.DagsterInstance, run_ids: list[str]) -> list[tuple]:
    """Each asset key's entry in the index: which stored event is its last materialization,
    which run (first or second) its last_run_id names, and whether its timestamp is that of
    its latest asset event (the batched storage writes an entry once per stretch of events)."""
    storage = instance.event_log_storage
    assert isinstance(storage, SqlEventLogStorage)
    with storage.index_connection() as conn:
        rows = conn.execute(
            sqlalchemy.text(
                "select asset_key, last_materialization, last_run_id, "
                "last_materialization_timestamp = (select max(timestamp) from event_logs "
                "where event_logs.asset_key = asset_keys.asset_key) from asset_keys order by 1"
            )
        ).fetchall()
    entries = []
    for key, materialization, run_id, timestamp_is_latest in rows:
        record = deserialize_value(materialization, EventLogRecord)
        entries.append(
            (
                key,
                record.storage_id,
                record.partition_key,
                run_ids.index(run_id),
                timestamp_is_latest,
            )
        )
    return entries


def _run_twice(home: Path) -> dict[str, object]:
    """Two ranged runs (the second overlapping the first) and what the instance then says."""
    connections = []
    count_connection = lambda *_: connections.append(1)  # noqa: E731
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run_logs, run_ids = [], []
        sqlalchemy.event.listen(Engine, "connect", count_connection)
        try:
            for first, last in ((KEYS[0], KEYS[14]), (KEYS[10], KEYS[-1])):
                result = JOB.execute_in_process(
                    instance=instance,
                    tags={
                        "dagster/asset_partition_range_start": first,
                        "dagster/asset_partition_range_end": last,
                    },
                )
                assert result.success
                run_ids.append(result.run_id)
                run_logs.append(
                    [
                        (e.dagster_event_type, e.dagster_event.asset_key, e.dagster_event.partition)
                        for e in instance.all_logs(result.run_id)
                        if e.dagster_event is not None
                    ]
                )
        finally:
            sqlalchemy.event.remove(Engine, "connect", count_connection)
        seen: dict[str, object] = {
            "storage": type(instance.event_log_storage).__name__,
            "connections": len(connections),
            "run logs": run_logs,
        }
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
        seen["asset entries"] = _asset_entries(instance, run_ids)
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
    # one connection per database and stretch of asset events, not two per event
    dagsters_connections, our_connections = expected.pop("connections"), actual.pop("connections")
    assert our_connections * 2 < dagsters_connections, (our_connections, dagsters_connections)
    planned = [
        e
        for e in actual["run logs"][0]
        if e[0] == dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
    ]  # type: ignore[index]
    assert len(planned) == 2 * 15
    assert actual["upstream partitions"] == KEYS
    assert ("SUCCEEDED", True) in actual["check runs"]  # type: ignore[operator]
    assert actual["indexed tags"] == [KEYS[14]] * 15 + [KEYS[-1]] * 10
    assert len(actual["upstream materializations"]) == 15 + 10  # type: ignore[arg-type]
    assert actual["downstream planned"] and actual["tagged version"] == KEYS[14]
    assert [entry[2:] for entry in actual["asset entries"]] == [
        (KEYS[-1], 1, True),  # downstream
        (KEYS[-1], 1, True),  # upstream
    ]
    assert actual == expected
    # ...and wrote them into the folders Dagster's own class reads
    assert (ours / "history" / "runs" / "index.db").is_file()


def test_events_stay_in_the_folder_of_the_instance_however_it_is_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        result = JOB.execute_in_process(instance=instance, partition_key=KEYS[0])
        assert result.success
        ref = instance.get_ref()
    # a run worker rebuilds the instance from its reference, with or without DAGSTER_HOME
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))
    with dg.DagsterInstance.from_ref(ref) as worker:
        assert isinstance(worker.event_log_storage, BatchedSqliteEventLogStorage)
        assert worker.get_materialized_partitions(upstream.key) == {KEYS[0]}
    assert (tmp_path / "history" / "runs" / f"{result.run_id}.db").is_file()
    assert not (tmp_path / "elsewhere").exists()


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


def test_engines_of_old_runs_are_let_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dagster_event_log, "ENGINES_KEPT", 2)  # the index and one run
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        for key in KEYS[:3]:
            assert JOB.execute_in_process(instance=instance, partition_key=key).success
        storage = instance.event_log_storage
        assert isinstance(storage, BatchedSqliteEventLogStorage)
        assert len(storage._engines) == 2
        # each kept engine keeps its one connection open; an evicted one closes its own
        assert open_event_databases(tmp_path) == {"index.db", f"{instance.get_runs()[0].run_id}.db"}
        assert instance.get_materialized_partitions(downstream.key) == set(KEYS[:3])
        assert len(instance.get_runs()) == 3
    assert storage._engines == {}  # disposed with the instance
    assert open_event_databases(tmp_path) == set()


def open_event_databases(dagster_home: Path) -> set[str]:
    """The event log's SQLite files this process holds open (Linux: /proc/self/fd)."""
    folder = str(dagster_home / "history" / "runs")
    names = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor is gone by now
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(folder) and target.endswith(".db"):
                names.add(Path(target).name)
    return names
