"""Layer 2: customer movements, re-derived from the earliest changed snapshot date."""

import dagster as dg

from churn_pipeline import lake, warehouse
from churn_pipeline.assets.common import ASSET_BACKFILL_POLICY, WAREHOUSE_POOL, markdown_preview
from churn_pipeline.assets.query_checks import QueryCheck, query_checks_step
from churn_pipeline.movements import derive_movements
from churn_pipeline.settings import Settings

SNAPSHOTS = dg.AssetKey(["raw", "subscription_snapshots"])
MOVEMENTS = dg.AssetKey(["core", "customer_movements"])


def build_movement_assets() -> list[dg.AssetsDefinition | dg.AssetChecksDefinition]:
    @dg.asset(
        key=["core", "customer_movements"],
        group_name="core",
        pool=WAREHOUSE_POOL,
        backfill_policy=ASSET_BACKFILL_POLICY,
        kinds={"duckdb", "sql"},
        deps=[SNAPSHOTS],
        description=(
            "Customer movements (new, reactivation, churn, expansion, contraction; plus the "
            "internal `opening` base) per snapshot pair, with the reason and dunning flag of the "
            "stopped subscriptions (METRICS.md §2–§3). Incremental: re-derived from the earliest "
            "snapshot date whose delivery changed since the last derivation."
        ),
    )
    def customer_movements(
        context: dg.AssetExecutionContext, settings: dg.ResourceParam[Settings]
    ) -> dg.MaterializeResult:
        if settings.lake_mode:
            removed = lake.remove_superseded_versions(settings)
            context.log.info(f"lake: {removed} superseded versions of snapshot dates removed")
        with warehouse.open_warehouse(settings) as conn:
            summary = derive_movements(conn, settings)
            if summary.recomputed_from is None:
                context.log.info(
                    "no snapshot delivery changed since the last derivation: nothing to do"
                )
            else:
                context.log.info(
                    f"movements re-derived from {summary.recomputed_from}: "
                    f"{summary.snapshot_pairs} snapshot pairs, {summary.movements}"
                )
            total = conn.execute("select count(*) from core.customer_movements").fetchone()
            preview = markdown_preview(
                conn,
                "select customer_id, movement_date, movement, mrr_before, mrr_after, reason_raw "
                "from core.customer_movements order by observed_on desc, customer_id limit 10",
            )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": int(total[0]) if total else 0,
                "recomputed_from": str(summary.recomputed_from)
                if summary.recomputed_from
                else "nothing changed",
                "snapshot_pairs_derived": summary.snapshot_pairs,
                **{f"derived_{name}": count for name, count in sorted(summary.movements.items())},
                "preview": preview,
            }
        )

    one_movement_per_customer_and_date = query_checks_step(
        "movement_checks",
        [
            QueryCheck(
                MOVEMENTS,
                "one_movement_per_customer_and_date",
                "At most one movement per customer and movement date (METRICS.md §3).",
                "checks/duplicate_movements",
            )
        ],
        warehouse.open_warehouse,
    )
    return [customer_movements, one_movement_per_customer_and_date]
