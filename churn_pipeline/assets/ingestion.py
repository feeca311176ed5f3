"""Layer 1: snapshot files → raw.subscription_snapshots, with gaps and quarantine recorded."""

import dagster as dg

from churn_pipeline import lake, warehouse
from churn_pipeline.assets.common import (
    ASSET_BACKFILL_POLICY,
    WAREHOUSE_POOL,
    days_between,
    markdown_preview,
    window_dates,
)
from churn_pipeline.ingestion import ingest_window
from churn_pipeline.landing import LandingError
from churn_pipeline.settings import Settings
from churn_pipeline.snapshot_files import SnapshotFileError


def build_ingestion_assets(
    partitions: dg.PartitionsDefinition, settings: Settings
) -> list[dg.AssetsDefinition]:
    # Lake mode writes each date to its own files: runs over different dates share no lock,
    # so a backfill is split into runs of CHURN_BACKFILL_RUN_DAYS that may run side by side.
    lake_mode = settings.lake_mode

    @dg.asset(
        key=["raw", "subscription_snapshots"],
        group_name="ingestion",
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.multi_run(settings.backfill_run_days)
        if lake_mode
        else ASSET_BACKFILL_POLICY,
        pool=None if lake_mode else WAREHOUSE_POOL,
        kinds={"duckdb", "csv", "parquet"},
        description=(
            "Daily subscription snapshots from CHURN_LANDING_DIR in the canonical schema "
            "(METRICS.md §1): statuses mapped, money in integer minor units, dates in business "
            "time. Rejected rows go to raw.rejected_rows; dates without a file are recorded as "
            "gaps in raw.snapshot_deliveries. In lake mode (CHURN_STORAGE=lake) each date is "
            "written as Parquet under CHURN_LAKE_PATH instead, without the warehouse lock."
        ),
    )
    def subscription_snapshots(
        context: dg.AssetExecutionContext, settings: dg.ResourceParam[Settings]
    ) -> dg.MaterializeResult:
        first, last = window_dates(context)
        opened = (
            lake.loading_database(settings) if lake_mode else warehouse.open_warehouse(settings)
        )
        # stamped before reading the landing folder: of two runs, the one that read later wins
        version = lake.new_version() if lake_mode else ""
        with opened as conn:
            try:
                summary = ingest_window(conn, settings, first, last, for_lake=lake_mode)
                if lake_mode:
                    lake.write_dates(conn, settings, days_between(first, last), version)
            except (LandingError, SnapshotFileError, lake.LakeError) as error:
                raise dg.Failure(description=str(error), allow_retries=False) from None
            context.log.info(
                f"snapshots {first}…{last}: {len(summary.loaded_dates)} dates loaded, "
                f"{len(summary.missing_dates)} gaps, {summary.rows_loaded} rows loaded, "
                f"{summary.rows_rejected} rejected, in {summary.chunks} chunks"
            )
            preview = markdown_preview(
                conn,
                "select * exclude (source_file, source_row) from raw.subscription_snapshots "
                "where snapshot_date = $day order by subscription_id limit 10",
                {"day": summary.loaded_dates[-1] if summary.loaded_dates else last},
            )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": summary.rows_loaded,
                "rows_read": summary.rows_read,
                "rows_loaded": summary.rows_loaded,
                "rows_rejected": summary.rows_rejected,
                "rejected_by_rule": dg.MetadataValue.json(summary.rejected_by_rule),
                "refused_dates": dg.MetadataValue.json(
                    [d.isoformat() for d in summary.refused_dates]
                ),
                "dates_loaded": len(summary.loaded_dates),
                "missing_dates": dg.MetadataValue.json(
                    [d.isoformat() for d in summary.missing_dates]
                ),
                "source_files": dg.MetadataValue.json(summary.source_files[:50]),
                "unknown_columns_ignored": dg.MetadataValue.json(summary.unknown_columns),
                "preview": preview,
            }
        )

    return [subscription_snapshots]
