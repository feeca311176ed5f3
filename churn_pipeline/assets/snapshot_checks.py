"""Data-quality checks on the ingested snapshots, as the Dagster UI shows them."""

import dagster as dg

from churn_pipeline import lake
from churn_pipeline.assets.query_checks import QueryCheck, query_checks_step

SNAPSHOTS = dg.AssetKey(["raw", "subscription_snapshots"])


def build_snapshot_checks() -> list[dg.AssetChecksDefinition]:
    # lake mode reads the lake without the warehouse lock
    return [query_checks_step("snapshot_checks", snapshot_checks(), lake.open_raw_layer)]


def snapshot_checks() -> list[QueryCheck]:
    return [
        QueryCheck(
            SNAPSHOTS,
            "quarantine_within_threshold",
            "Fails when a file of the latest ingestion had more rejected rows than "
            "CHURN_QUARANTINE_THRESHOLD allows. Such a date is `refused`: kept for inspection in "
            "raw.rejected_rows, treated as a gap by the movements, so a half-broken export never "
            "shows up as churn. Fix the file (or raise the threshold) and re-run the date.",
            "checks/refused_deliveries",
        ),
        QueryCheck(
            SNAPSHOTS,
            "snapshot_keys_valid",
            "Every loaded row has a subscription_id and a customer_id, and no subscription_id "
            "appears twice in one snapshot.",
            "checks/snapshot_key_violations",
            lake_sql_name="lake/check_snapshot_key_violations",
        ),
        QueryCheck(
            SNAPSHOTS,
            "snapshot_gaps",
            "Lists snapshot dates between the first and the latest with no usable file (missing "
            "or refused). States are carried forward over a gap; this warns so that a lost "
            "export is noticed and re-sent.",
            "checks/snapshot_gaps",
            severity=dg.AssetCheckSeverity.WARN,
            blocking=False,
        ),
        QueryCheck(
            SNAPSHOTS,
            "no_sudden_drop_in_active_subscriptions",
            "Warns when active or past_due subscriptions fall by more than "
            "CHURN_ACTIVE_DROP_WARNING between consecutive snapshots: the classic sign of a "
            "truncated export that would otherwise read as mass churn.",
            "checks/active_subscription_drops",
            lake_sql_name="lake/check_active_subscription_drops",
            severity=dg.AssetCheckSeverity.WARN,
            blocking=False,
            settings_params={"max_drop": "active_drop_warning"},
        ),
    ]
