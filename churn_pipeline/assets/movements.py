"""Layer 2: customer movements, re-derived from the earliest changed snapshot date."""

import dagster as dg

from churn_pipeline import warehouse
from churn_pipeline.assets.common import ASSET_BACKFILL_POLICY, WAREHOUSE_POOL, markdown_preview
from churn_pipeline.movements import derive_movements
from churn_pipeline.settings import Settings

SNAPSHOTS = dg.AssetKey(["raw", "subscription_snapshots"])


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

    @dg.asset_check(
        asset=customer_movements,
        blocking=True,
        description="At most one movement per customer and movement date (METRICS.md §3).",
    )
    def one_movement_per_customer_and_date(
        settings: dg.ResourceParam[Settings],
    ) -> dg.AssetCheckResult:
        with warehouse.open_warehouse(settings) as conn:
            duplicates = conn.execute(
                "select customer_id, movement_date, count(*) as movements from core.customer_movements "
                "group by all having count(*) > 1 order by movement_date, customer_id limit 20"
            ).fetchall()
        return dg.AssetCheckResult(
            passed=not duplicates,
            metadata={
                "duplicates_shown": dg.MetadataValue.json(
                    [[str(v) for v in row] for row in duplicates]
                )
            },
        )

    return [customer_movements, one_movement_per_customer_and_date]
