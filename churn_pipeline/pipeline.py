"""All Dagster definitions for one configuration (the environment, or a test's settings)."""

from __future__ import annotations

import dagster as dg

from churn_pipeline.assets.automation import (
    build_landing_sensor,
    build_nightly_schedule,
    build_run_log_sensors,
)
from churn_pipeline.assets.ingestion import build_ingestion_assets
from churn_pipeline.assets.marts import build_mart_assets
from churn_pipeline.assets.movements import build_movement_assets
from churn_pipeline.assets.snapshot_checks import build_snapshot_checks
from churn_pipeline.landing import earliest_snapshot_date
from churn_pipeline.settings import DEFAULT_START_DATE, Settings

ALL_ASSETS_JOB = "churn_pipeline_job"


def daily_partitions_for(settings: Settings) -> dg.DailyPartitionsDefinition:
    """Snapshot dates in the business time zone; the newest is yesterday (end_offset=0),
    the last day whose end-of-day export can be complete."""
    start = (
        settings.start_date or earliest_snapshot_date(settings.landing_dir) or DEFAULT_START_DATE
    )
    return dg.DailyPartitionsDefinition(start_date=start.isoformat(), timezone=settings.timezone)


def build_definitions(settings: Settings) -> dg.Definitions:
    partitions = daily_partitions_for(settings)
    assets_and_checks = [
        *build_ingestion_assets(partitions, settings),
        *build_snapshot_checks(),
        *build_movement_assets(),
        *build_mart_assets(),
    ]
    checks = [a for a in assets_and_checks if isinstance(a, dg.AssetChecksDefinition)]
    assets = [a for a in assets_and_checks if not isinstance(a, dg.AssetChecksDefinition)]
    everything = dg.define_asset_job(
        ALL_ASSETS_JOB,
        selection=dg.AssetSelection.all(),
        description="Ingest snapshots, derive movements and rebuild the reporting tables.",
    )
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=[everything],
        schedules=[build_nightly_schedule(everything, settings)],
        sensors=[
            build_landing_sensor(everything, settings, partitions),
            *build_run_log_sensors(settings),
        ],
        resources={"settings": settings},
        # Every writing step waits for the one warehouse slot anyway, so steps run one after the
        # other in the run's own process: a process per step (the multiprocess default) would
        # pay Python and Dagster start-up per step for no parallelism.
        executor=dg.in_process_executor,
    )
