"""Running the pipeline as real Dagster runs recorded in the instance (CLI and tests)."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import socket
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg

from churn_pipeline.dagster_event_log import enable_event_batches
from churn_pipeline.lake import LakeError
from churn_pipeline.landing import discover
from churn_pipeline.pipeline import ALL_ASSETS_JOB, build_definitions
from churn_pipeline.run_log import record_for, record_run
from churn_pipeline.settings import PROJECT_ROOT, Settings
from churn_pipeline.warehouse import StorageModeError

INSTANCE_TEMPLATE = PROJECT_ROOT / "dagster.yaml"
HOST_TAG = "churn_pipeline/host"
PID_TAG = "churn_pipeline/pid"
OWN_ERROR_PREFIX = re.compile(r"^churn_pipeline(\.\w+)+Error: ")
UNFINISHED = [
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


class RunFailedError(RuntimeError):
    """A Dagster run did not succeed; the message carries the first failure."""


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    window_start: date
    window_end: date


def prepare_dagster_home(settings: Settings) -> Path:
    """Create DAGSTER_HOME with the project's dagster.yaml when it does not exist yet."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists() and INSTANCE_TEMPLATE.exists():
        shutil.copyfile(INSTANCE_TEMPLATE, target)
    return home


class InstanceError(RuntimeError):
    """DAGSTER_HOME's instance cannot be opened (its configuration or its database)."""


def open_instance(settings: Settings) -> dg.DagsterInstance:
    """The instance in DAGSTER_HOME; creation is serialised so that two processes starting
    together on a fresh home do not both create its SQLite tables."""
    home = prepare_dagster_home(settings)
    os.environ["DAGSTER_HOME"] = str(home)
    with (home / ".instance.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            instance = dg.DagsterInstance.get()
        except Exception as error:  # a bad dagster.yaml, an unreachable Postgres: the user's to fix
            reason = " ".join(str(error).split())
            raise InstanceError(
                f"cannot open the Dagster instance in {home} ({home / 'dagster.yaml'}): {reason}"
            ) from error
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    enable_event_batches(instance)
    return instance


def snapshot_window(settings: Settings, start: date | None, end: date | None) -> tuple[date, date]:
    """The requested range, defaulting to the first and last snapshot in the landing folder."""
    dates = list(discover(settings.landing_dir))
    if not dates and (start is None or end is None):
        raise FileNotFoundError(
            f"no snapshot files in {settings.landing_dir} (set CHURN_LANDING_DIR)"
        )
    first = start or dates[0]
    last = end or dates[-1]
    if first > last:
        raise ValueError(f"--start {first} is after --end {last}")
    return first, last


def run_pipeline(
    settings: Settings,
    instance: dg.DagsterInstance,
    window_start: date,
    window_end: date,
    run_id: str | None = None,
    quiet: bool = False,
) -> RunOutcome:
    """One ranged run of every asset over [window_start, window_end] (both inclusive)."""
    definitions = build_definitions(settings)
    job = definitions.resolve_job_def(ALL_ASSETS_JOB)
    keys = _partition_keys(definitions, window_start, window_end)
    first_key, last_key = keys[0], keys[-1]
    recover_orphaned_runs(settings, instance)
    result = job.execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": first_key,
            "dagster/asset_partition_range_end": last_key,
            HOST_TAG: socket.gethostname(),
            PID_TAG: str(os.getpid()),
        },
        raise_on_error=False,
        run_id=run_id,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
        if quiet
        else None,
    )
    error = None if result.success else (_first_failure(result) or f"run {result.run_id} failed")
    run = instance.get_run_by_id(result.run_id)
    if run is not None:
        try:
            record_run(settings, record_for(instance, run, error))
        except (StorageModeError, LakeError):  # the run failed on it too, and says so below
            if error is None:
                raise
    if error is not None:
        raise RunFailedError(error)
    return RunOutcome(result.run_id, window_start, window_end)


def _partition_keys(definitions: dg.Definitions, window_start: date, window_end: date) -> list[str]:
    """The daily partition keys of [window_start, window_end]; both ends must be partitions."""
    partitions = definitions.resolve_job_def(ALL_ASSETS_JOB).partitions_def
    assert partitions is not None
    keys = partitions.get_partition_keys()
    first_key, last_key = window_start.isoformat(), window_end.isoformat()
    if first_key not in keys or last_key not in keys:
        raise ValueError(
            f"dates {first_key}…{last_key} fall outside the daily partitions "
            f"{keys[0] if keys else '?'}…{keys[-1] if keys else '?'} (CHURN_START_DATE, and the newest "
            "partition is yesterday in CHURN_TIMEZONE)"
        )
    return keys[keys.index(first_key) : keys.index(last_key) + 1]


def recover_orphaned_runs(settings: Settings, instance: dg.DagsterInstance) -> list[str]:
    """Fail the in-process runs of this host whose process died, and free their pool slots.

    A run killed mid-way (SIGKILL, a crash, a reboot) stays `STARTED` and keeps its slot in
    the `churn_warehouse` pool, so the next run would wait for it forever. Runs the daemon
    launched are left to Dagster's run monitoring (dagster.yaml).
    """
    recovered = []
    here = socket.gethostname()
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED, tags={HOST_TAG: here})):
        pid = int(run.tags.get(PID_TAG, "0") or 0)
        if pid and not _process_alive(pid):
            message = f"the process running it (pid {pid}) died; its pool slots were freed"
            instance.report_run_failed(run, message=message)
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            refreshed = instance.get_run_by_id(run.run_id) or run
            record_run(settings, record_for(instance, refreshed, message))
            recovered.append(run.run_id)
    return recovered


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _first_failure(result: dg.ExecuteInProcessResult) -> str | None:
    """The first step failure's own message, else the first failed ERROR-severity check."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            if (
                event.step_failure_data.user_failure_data
                and event.step_failure_data.user_failure_data.description
            ):
                message = event.step_failure_data.user_failure_data.description
            else:
                error = event.step_failure_data.error
                message = error.cause.message if error.cause else error.message
                # our own errors say what to do; their class path is noise to the user
                message = OWN_ERROR_PREFIX.sub("", message)
            if "blocking asset check failed" not in message:
                return f"step {event.step_key} failed: {message.strip()}"
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            if (
                getattr(data, "passed", True) is False
                and getattr(data, "severity", None) == dg.AssetCheckSeverity.ERROR
            ):
                return f"check {data.check_name} on {data.asset_key.to_user_string()} failed"
    return None


def submit_backfill(
    settings: Settings, instance: dg.DagsterInstance, window_start: date, window_end: date
) -> str:
    """Queue an asset backfill of every asset over [window_start, window_end] for the daemon.

    The daemon splits it by each asset's backfill policy: in lake mode the snapshot dates go
    in runs of CHURN_BACKFILL_RUN_DAYS (as many at a time as the instance's run queue allows),
    then one run derives movements and rebuilds the tables once every date is in. Returns
    the backfill id (the UI's Backfills tab shows its runs).
    """
    from dagster._core.execution.backfill import PartitionBackfill
    from dagster._core.utils import make_new_backfill_id
    from dagster._time import get_current_timestamp

    definitions = build_definitions(settings)
    asset_graph = definitions.resolve_asset_graph()
    partition_keys = _partition_keys(definitions, window_start, window_end)
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=make_new_backfill_id(),
        asset_graph=asset_graph,
        partition_names=partition_keys,
        asset_selection=sorted(asset_graph.materializable_asset_keys),
        backfill_timestamp=get_current_timestamp(),
        tags={HOST_TAG: socket.gethostname()},
        dynamic_partitions_store=instance,
        all_partitions=False,
        title=f"churn-pipeline backfill {window_start}…{window_end}",
        description=f"storage mode {settings.storage}",
        run_config=None,
    )
    instance.add_backfill(backfill)
    return backfill.backfill_id
