"""The nightly schedule, the landing-folder sensor and the run-status sensors."""

import json
from collections.abc import Iterable
from datetime import date, timedelta
from typing import TYPE_CHECKING

import dagster as dg

from churn_pipeline.landing import LandingError, SnapshotSource, discover
from churn_pipeline.run_log import RANGE_END_TAG, RANGE_START_TAG, record_for, record_run
from churn_pipeline.settings import Settings

if TYPE_CHECKING:  # the type define_asset_job returns has no public name
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

NIGHTLY_SCHEDULE = "nightly_churn"
LANDING_SENSOR = "new_snapshot_files"


def build_nightly_schedule(
    job: "UnresolvedAssetJobDefinition", settings: Settings
) -> dg.ScheduleDefinition:
    hour, minute = settings.nightly_at
    return dg.build_schedule_from_partitioned_job(
        job,
        name=NIGHTLY_SCHEDULE,
        description=(
            f"Every day at {hour:02d}:{minute:02d} {settings.timezone} (CHURN_NIGHTLY_AT, "
            "CHURN_TIMEZONE): yesterday's snapshot and everything downstream. A missing file "
            "fails the run naming the file it expected. Off until turned on in the UI."
        ),
        hour_of_day=hour,
        minute_of_hour=minute,
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )


def file_fingerprint(source: SnapshotSource) -> str:
    """Name, size and modification time of every file of a date: a re-sent file changes it."""
    parts = [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in source.paths]
    return "|".join(parts)


def consecutive_ranges(days: Iterable[date]) -> list[tuple[date, date]]:
    ranges: list[tuple[date, date]] = []
    for day in sorted(days):
        if ranges and ranges[-1][1] + timedelta(days=1) == day:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def build_landing_sensor(
    job: "UnresolvedAssetJobDefinition",
    settings: Settings,
    partitions: dg.DailyPartitionsDefinition,
) -> dg.SensorDefinition:
    @dg.sensor(
        name=LANDING_SENSOR,
        job=job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=(
            "Watches CHURN_LANDING_DIR. A new or re-sent snapshot file (by name, size and "
            "modification time) triggers a ranged run of its date(s) and everything downstream."
        ),
    )
    def new_snapshot_files(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        try:
            sources = discover(settings.landing_dir)
        except LandingError as error:
            return dg.SkipReason(f"landing folder not readable: {error}")
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        partition_keys = set(partitions.get_partition_keys())
        changed = {
            day: fingerprint
            for day, source in sources.items()
            if (fingerprint := file_fingerprint(source)) != seen.get(day.isoformat())
            and day.isoformat() in partition_keys
        }
        if not changed:
            return dg.SkipReason("no new or changed snapshot file")
        requests = [
            dg.RunRequest(
                run_key=f"{first}..{last}:{hash(tuple(changed[d] for d in sorted(changed) if first <= d <= last)) & 0xFFFFFFFF:08x}",
                tags={RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat()},
            )
            for first, last in consecutive_ranges(changed)
        ]
        cursor = {**seen, **{day.isoformat(): fingerprint for day, fingerprint in changed.items()}}
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor, sort_keys=True))

    return new_snapshot_files


def build_run_log_sensors(settings: Settings) -> list[dg.SensorDefinition]:
    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        name="record_successful_runs",
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Records every successful run in reporting.pipeline_runs.",
    )
    def record_successful_runs(context: dg.RunStatusSensorContext) -> None:
        record_run(settings, record_for(context.instance, context.dagster_run, None))

    @dg.run_failure_sensor(
        name="record_failed_runs",
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Records every failed run, with its first error, in reporting.pipeline_runs (and in "
            "the published copy, beside the last good tables) and logs a one-line summary."
        ),
    )
    def record_failed_runs(context: dg.RunFailureSensorContext) -> None:
        step_failures = context.get_step_failure_events()
        if (
            step_failures
            and step_failures[0].step_failure_data
            and step_failures[0].step_failure_data.error
        ):
            error = f"step {step_failures[0].step_key} failed: {step_failures[0].step_failure_data.error.message}"
        else:
            error = context.failure_event.message or "run failed"
        run = context.dagster_run
        context.log.error(f"churn pipeline run {run.run_id} failed: {' '.join(error.split())}")
        record_run(settings, record_for(context.instance, run, error))

    return [record_successful_runs, record_failed_runs]
