"""Data-quality checks on the ingested snapshots, as the Dagster UI shows them."""

import dagster as dg

from churn_pipeline import lake, warehouse
from churn_pipeline.settings import Settings

SNAPSHOTS = dg.AssetKey(["raw", "subscription_snapshots"])


def _query_check(
    name: str,
    sql_name: str,
    description: str,
    severity: dg.AssetCheckSeverity,
    blocking: bool,
    params: dict[str, object] | None = None,
) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=SNAPSHOTS, name=name, description=description, blocking=blocking)
    def _check(settings: dg.ResourceParam[Settings]) -> dg.AssetCheckResult:
        bound = {key: getattr(settings, value) for key, value in (params or {}).items()}
        with lake.open_raw_layer(settings) as conn:
            cursor = warehouse.run(conn, settings, sql_name, bound)
            columns = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        shown = [{c: str(v) for c, v in zip(columns, row, strict=True)} for row in rows[:30]]
        return dg.AssetCheckResult(
            passed=not rows,
            severity=severity,
            metadata={"findings": len(rows), "first_findings": dg.MetadataValue.json(shown)},
        )

    return _check


def build_snapshot_checks() -> list[dg.AssetChecksDefinition]:
    return [
        _query_check(
            "quarantine_within_threshold",
            "checks/refused_deliveries",
            "Fails when a file of the latest ingestion had more rejected rows than "
            "CHURN_QUARANTINE_THRESHOLD allows. Such a date is `refused`: kept for inspection in "
            "raw.rejected_rows, treated as a gap by the movements, so a half-broken export never "
            "shows up as churn. Fix the file (or raise the threshold) and re-run the date.",
            dg.AssetCheckSeverity.ERROR,
            blocking=True,
        ),
        _query_check(
            "snapshot_keys_valid",
            "checks/snapshot_key_violations",
            "Every loaded row has a subscription_id and a customer_id, and no subscription_id "
            "appears twice in one snapshot.",
            dg.AssetCheckSeverity.ERROR,
            blocking=True,
        ),
        _query_check(
            "snapshot_gaps",
            "checks/snapshot_gaps",
            "Lists snapshot dates between the first and the latest with no usable file (missing "
            "or refused). States are carried forward over a gap; this warns so that a lost "
            "export is noticed and re-sent.",
            dg.AssetCheckSeverity.WARN,
            blocking=False,
        ),
        _query_check(
            "no_sudden_drop_in_active_subscriptions",
            "checks/active_subscription_drops",
            "Warns when active or past_due subscriptions fall by more than "
            "CHURN_ACTIVE_DROP_WARNING between consecutive snapshots: the classic sign of a "
            "truncated export that would otherwise read as mass churn.",
            dg.AssetCheckSeverity.WARN,
            blocking=False,
            params={"max_drop": "active_drop_warning"},
        ),
    ]
