"""Layer 2: customer movements, incremental per snapshot date."""


import dagster as dg

from churn_pipeline import warehouse
from churn_pipeline.assets.common import ASSET_BACKFILL_POLICY, WAREHOUSE_POOL, markdown_preview, window_dates
from churn_pipeline.movements import derive_movements
from churn_pipeline.settings import Settings

# Movements of day D compare snapshot D with the one before it, so a re-sent day D-1 makes
# day D stale too.
PREVIOUS_AND_CURRENT_DAY = dg.TimeWindowPartitionMapping(
    start_offset=-1, end_offset=0, allow_nonexistent_upstream_partitions=True
)


def build_movement_assets(partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition | dg.AssetChecksDefinition]:
    @dg.asset(
        key=["core", "customer_movements"],
        group_name="core",
        partitions_def=partitions,
        backfill_policy=ASSET_BACKFILL_POLICY,
        pool=WAREHOUSE_POOL,
        kinds={"duckdb", "sql"},
        deps=[dg.AssetDep(["raw", "subscription_snapshots"], partition_mapping=PREVIOUS_AND_CURRENT_DAY)],
        description=(
            "Customer movements (new, reactivation, churn, expansion, contraction; plus the "
            "internal `opening` base) observed on each snapshot date, with churn reasons and "
            "dunning flags of the stopped subscriptions (METRICS.md §2–§3)."
        ),
    )
    def customer_movements(context: dg.AssetExecutionContext, settings: dg.ResourceParam[Settings]) -> dg.MaterializeResult:
        first, last = window_dates(context)
        with warehouse.open_warehouse(settings) as conn:
            summary = derive_movements(conn, settings, first, last)
            context.log.info(f"movements {first}…{last}: {summary.snapshot_pairs} snapshot pairs, {summary.movements}")
            preview = markdown_preview(
                conn,
                "select customer_id, movement_date, movement, mrr_before, mrr_after, reason_raw "
                "from core.customer_movements where observed_on between $first and $last "
                "order by observed_on desc, customer_id limit 10",
                {"first": first, "last": last},
            )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": sum(summary.movements.values()),
                "snapshot_pairs": summary.snapshot_pairs,
                **{f"movements_{name}": count for name, count in sorted(summary.movements.items())},
                "preview": preview,
            }
        )

    @dg.asset_check(
        asset=customer_movements,
        blocking=True,
        description="At most one movement per customer and movement date (METRICS.md §3).",
    )
    def one_movement_per_customer_and_date(settings: dg.ResourceParam[Settings]) -> dg.AssetCheckResult:
        with warehouse.open_warehouse(settings) as conn:
            duplicates = conn.execute(
                "select customer_id, movement_date, count(*) as movements from core.customer_movements "
                "group by all having count(*) > 1 order by movement_date, customer_id limit 20"
            ).fetchall()
        return dg.AssetCheckResult(
            passed=not duplicates,
            metadata={"duplicates_shown": dg.MetadataValue.json([[str(v) for v in row] for row in duplicates])},
        )

    return [customer_movements, one_movement_per_customer_and_date]
