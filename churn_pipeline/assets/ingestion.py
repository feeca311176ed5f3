"""Layer 1: snapshot files → raw.subscription_snapshots, with gaps and quarantine recorded."""

import dagster as dg

from churn_pipeline import warehouse
from churn_pipeline.assets.common import (
    ASSET_BACKFILL_POLICY,
    WAREHOUSE_POOL,
    markdown_preview,
    window_dates,
)
from churn_pipeline.ingestion import ingest_window
from churn_pipeline.landing import LandingError
from churn_pipeline.settings import Settings
from churn_pipeline.snapshot_files import SnapshotFileError


def build_ingestion_assets(partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=["raw", "subscription_snapshots"],
        group_name="ingestion",
        partitions_def=partitions,
        backfill_policy=ASSET_BACKFILL_POLICY,
        pool=WAREHOUSE_POOL,
        kinds={"duckdb", "csv", "parquet"},
        description=(
            "Daily subscription snapshots from CHURN_LANDING_DIR in the canonical schema "
            "(METRICS.md §1): statuses mapped, money in integer minor units, dates in business "
            "time. Rejected rows go to raw.rejected_rows; dates without a file are recorded as "
            "gaps in raw.snapshot_deliveries."
        ),
    )
    def subscription_snapshots(
        context: dg.AssetExecutionContext, settings: dg.ResourceParam[Settings]
    ) -> dg.MaterializeResult:
        first, last = window_dates(context)
        with warehouse.open_warehouse(settings) as conn:
            try:
                summary = ingest_window(conn, settings, first, last)
            except (LandingError, SnapshotFileError) as error:
                raise dg.Failure(description=str(error), allow_retries=False) from None
            context.log.info(
                f"snapshots {first}…{last}: {len(summary.loaded_dates)} dates loaded, "
                f"{len(summary.missing_dates)} gaps, {summary.rows_loaded} rows loaded, "
                f"{summary.rows_rejected} rejected"
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
