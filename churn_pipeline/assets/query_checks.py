"""Asset checks that are SQL queries: a check passes when its query returns no rows.

The checks of one layer run as one step on one connection (`@multi_asset_check`): a check per
step would pay Dagster's per-step cost and a database open for a query of milliseconds.
"""

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date

import dagster as dg
import duckdb

from churn_pipeline import warehouse
from churn_pipeline.settings import Settings

FINDINGS_SHOWN = 30


@dataclass(frozen=True)
class QueryCheck:
    asset: dg.AssetKey
    name: str
    description: str
    sql_name: str  # sql/<sql_name>.sql returns the findings
    lake_sql_name: str | None = None  # another query in lake mode, which stores every row
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR
    blocking: bool = True
    settings_params: dict[str, str] = field(default_factory=dict)  # parameter -> Settings field

    @property
    def key(self) -> dg.AssetCheckKey:
        return dg.AssetCheckKey(self.asset, self.name)

    def spec(self) -> dg.AssetCheckSpec:
        return dg.AssetCheckSpec(
            self.name, asset=self.asset, description=self.description, blocking=self.blocking
        )

    def evaluate(
        self, conn: duckdb.DuckDBPyConnection, settings: Settings, run_window: dict[str, object]
    ) -> dg.AssetCheckResult:
        params = {
            **run_window,
            **{
                name: getattr(settings, attribute)
                for name, attribute in self.settings_params.items()
            },
        }
        sql_name = self.sql_name
        if settings.lake_mode and self.lake_sql_name is not None:
            sql_name = self.lake_sql_name
        cursor = warehouse.run(conn, settings, sql_name, params)
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
        shown = [
            {c: str(v) for c, v in zip(columns, row, strict=True)} for row in rows[:FINDINGS_SHOWN]
        ]
        return dg.AssetCheckResult(
            asset_key=self.asset,
            check_name=self.name,
            passed=not rows,
            severity=self.severity,
            metadata={"findings": len(rows), "first_findings": dg.MetadataValue.json(shown)},
        )


def query_checks_step(
    name: str,
    checks: list[QueryCheck],
    open_connection: Callable[[Settings], AbstractContextManager[duckdb.DuckDBPyConnection]],
) -> dg.AssetChecksDefinition:
    """Every check of `checks` (or the selected ones) in one step, on one connection."""

    @dg.multi_asset_check(name=name, specs=[check.spec() for check in checks], can_subset=True)
    def _checks(
        context: dg.AssetCheckExecutionContext, settings: dg.ResourceParam[Settings]
    ) -> Iterator[dg.AssetCheckResult]:
        selected = context.selected_asset_check_keys
        window = run_window(context.op_execution_context.run.tags)
        with open_connection(settings) as conn:
            for check in checks:
                if check.key in selected:
                    yield check.evaluate(conn, settings, window)

    return _checks


def run_window(tags: Mapping[str, str]) -> dict[str, object]:
    """The run's snapshot dates ($window_start, $window_end; None when the run names none)."""
    first = tags.get("dagster/asset_partition_range_start") or tags.get("dagster/partition")
    last = tags.get("dagster/asset_partition_range_end") or tags.get("dagster/partition")
    if not first or not last:
        return {"window_start": None, "window_end": None}
    return {"window_start": date.fromisoformat(first), "window_end": date.fromisoformat(last)}
