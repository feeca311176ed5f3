"""Layers 3–4: reason categories, the daily replay, and the `reporting` tables.

These are unpartitioned: each table recomputes from the movement log in one statement
(`create or replace table ... as`), which is atomic and cheap next to movement derivation.
The SQL-built tables share one step (`warehouse_tables`); each is still its own asset.
"""

from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg
import duckdb

from churn_pipeline import incremental, warehouse
from churn_pipeline.assets.common import (
    ASSET_BACKFILL_POLICY,
    WAREHOUSE_POOL,
    markdown_preview,
    table_row_count,
)
from churn_pipeline.assets.query_checks import QueryCheck, query_checks_step
from churn_pipeline.html_report import write_html_report
from churn_pipeline.publish import publish
from churn_pipeline.reasons import CATEGORIZED_REASON_COLUMNS, categorize_reasons, mapping_for
from churn_pipeline.settings import Settings
from churn_pipeline.table_docs import column_schema

SNAPSHOTS = dg.AssetKey(["raw", "subscription_snapshots"])
MOVEMENTS = dg.AssetKey(["core", "customer_movements"])
REASON_CATEGORIES = dg.AssetKey(["core", "churn_reason_categories"])
DAILY_TOTALS = dg.AssetKey(["core", "daily_customer_totals"])
REPORTING_MOVEMENTS = dg.AssetKey(["reporting", "customer_movements"])
CHURN_BY_PERIOD = dg.AssetKey(["reporting", "churn_by_period"])
REASONS_BY_PERIOD = dg.AssetKey(["reporting", "churn_reasons_by_period"])
UNMAPPED_REASONS = dg.AssetKey(["reporting", "unmapped_reasons"])
CUSTOMER_MONTHS = dg.AssetKey(["core", "customer_months"])
CHURN_FORECASTS = dg.AssetKey(["core", "churn_forecasts"])
CHURN_BY_TENURE = dg.AssetKey(["reporting", "churn_by_tenure"])
CUSTOMER_SURVIVAL = dg.AssetKey(["reporting", "customer_survival"])
CHURN_SEASONALITY = dg.AssetKey(["reporting", "churn_seasonality"])
CHURN_FORECAST = dg.AssetKey(["reporting", "churn_forecast"])
FORECAST_BACKTEST = dg.AssetKey(["reporting", "churn_forecast_backtest"])
COHORT_RETENTION = dg.AssetKey(["reporting", "cohort_retention"])


@dataclass(frozen=True)
class IncrementalSql:
    """How a table rebuilds only what can have changed (incremental.py). `recompute` fills the
    temp table `rows_table` with the rows that can depend on a day from $rebuild_from on (every
    row on a full build); a full build then runs the table's own statements, an incremental one
    `merge`. `reads`: the other built tables it reads, which must be current (their build
    record matches the movement log) for its own record to be written."""

    recompute: str
    rows_table: str
    merge: tuple[str, ...]
    reads: tuple[str, ...] = ()


@dataclass(frozen=True)
class SqlTable:
    """A table built by its SQL file(s), run in order (each one statement)."""

    key: dg.AssetKey
    sql_names: str | tuple[str, ...]
    deps: list[dg.AssetKey]
    group: str
    description: str
    preview_sql: str
    run_params: Callable[[], dict[str, object]] = dict
    incremental: IncrementalSql | None = None
    record_build: bool = False  # an incremental table reads it: record what it was built from

    @property
    def table(self) -> str:
        return ".".join(self.key.path)

    @property
    def schema_metadata(self) -> dict[str, dg.TableSchema]:
        if self.key.path[0] != "reporting":
            return {}
        return {"dagster/column_schema": column_schema(self.table)}

    def spec(self) -> dg.AssetSpec:
        return dg.AssetSpec(
            self.key,
            deps=self.deps,
            group_name=self.group,
            description=self.description,
            kinds={"duckdb", "sql"},
            metadata=self.schema_metadata,
        )

    @property
    def steps(self) -> tuple[str, ...]:
        return (self.sql_names,) if isinstance(self.sql_names, str) else self.sql_names

    def build(self, conn: duckdb.DuckDBPyConnection, settings: Settings) -> dg.MaterializeResult:
        params = self.run_params()
        build_metadata: dict[str, str] = {}
        if self.incremental is None:
            with warehouse.transaction(conn):
                for step in self.steps:
                    warehouse.run(conn, settings, step, params)
                if self.record_build:
                    incremental.record_build(conn, settings, self.table)
        else:
            build_metadata["rebuild"] = self._build_incrementally(conn, settings, params)
        return dg.MaterializeResult(
            asset_key=self.key,
            metadata={
                **self.schema_metadata,
                **build_metadata,
                "dagster/row_count": table_row_count(conn, self.table),
                "preview": markdown_preview(conn, self.preview_sql),
            },
        )

    def _build_incrementally(
        self, conn: duckdb.DuckDBPyConnection, settings: Settings, params: dict[str, object]
    ) -> str:
        spec = self.incremental
        assert spec is not None
        stale = [table for table in spec.reads if not incremental.is_current(conn, settings, table)]
        plan = (
            incremental.FULL_REBUILD
            if stale
            else incremental.plan_rebuild(conn, settings, self.table)
        )
        if plan.up_to_date:
            return plan.describe()
        params = {**params, "rebuild_from": plan.rebuild_from}
        with warehouse.transaction(conn):
            warehouse.run(conn, settings, spec.recompute, params)
            for step in spec.merge if plan.incremental else self.steps:
                warehouse.run(conn, settings, step, params)
            if stale:  # built from tables behind the movement log: the next build starts over
                incremental.forget_build(conn, settings, self.table)
            else:
                incremental.record_build(conn, settings, self.table)
        conn.execute(f"drop table if exists temp.{spec.rows_table}")
        if stale:
            return f"{plan.describe()}, not recorded: {', '.join(stale)} not built from the current movements"
        return plan.describe()


def build_sql_tables_asset(tables: list[SqlTable]) -> dg.AssetsDefinition:
    """Every SQL-built table as one step on the warehouse, each built once the tables it reads
    are (`build_tables`); each still materializes as its own asset, and any subset can be
    selected.

    One step instead of one per table: a run pays Dagster's per-step cost (events, pool slot,
    upstream version lookups) and a warehouse open once, which is most of a nightly run's time.
    """

    @dg.multi_asset(
        name="warehouse_tables",
        specs=[table.spec() for table in tables],
        pool=WAREHOUSE_POOL,
        backfill_policy=ASSET_BACKFILL_POLICY,
        can_subset=True,
    )
    def warehouse_tables(
        context: dg.AssetExecutionContext, settings: dg.ResourceParam[Settings]
    ) -> Iterator[dg.MaterializeResult]:
        selected = [table for table in tables if table.key in context.selected_asset_keys]
        with warehouse.open_warehouse(settings) as conn:
            yield from build_tables(conn, settings, selected)

    return warehouse_tables


def build_tables(
    conn: duckdb.DuckDBPyConnection, settings: Settings, tables: list[SqlTable]
) -> Iterator[dg.MaterializeResult]:
    """Build `tables`, up to CHURN_DUCKDB_THREADS at a time, each on a connection of its own
    once the tables it depends on among `tables` are built (of those ready, the ones more
    tables are built on first); yields each result as its build commits.

    Most statements keep only ~1.3 of two cores busy, so two builds at once take the step from
    1.55 to 1.24 s at the bench size. Each build is its own transaction on its own tables (and
    its own row of core.mart_build_inputs); a table's `deps` must name every table of the step
    its SQL reads (test_definitions.py holds them to the SQL). When a build fails, no other
    starts, those running finish and are yielded, and the error is raised.
    """
    keys = {table.key for table in tables}
    waiting = sorted(tables, key=lambda table: -len(_built_on(table, tables)))
    built: set[dg.AssetKey] = set()
    connections = [
        warehouse.cursor(conn, settings)
        for _ in range(max(1, min(settings.duckdb_threads, len(tables))))
    ]
    free = list(connections)
    running: dict[Future[dg.MaterializeResult], tuple[SqlTable, duckdb.DuckDBPyConnection]] = {}
    failure: BaseException | None = None
    try:
        with ThreadPoolExecutor(len(connections), thread_name_prefix="warehouse-table") as pool:
            while waiting or running:
                ready = [
                    table
                    for table in waiting
                    if all(dep in built or dep not in keys for dep in table.deps)
                ]
                while failure is None and ready and free:
                    table, connection = ready.pop(0), free.pop()
                    waiting.remove(table)
                    running[pool.submit(table.build, connection, settings)] = (table, connection)
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    table, connection = running.pop(future)
                    free.append(connection)
                    try:
                        result = future.result()
                    except Exception as error:
                        failure = failure or error
                        continue
                    built.add(table.key)
                    yield result
    finally:  # after the pool's threads have finished
        for connection in connections:
            connection.close()
    if failure is not None:
        raise failure
    if waiting:  # only when `deps` form a cycle among `tables`
        raise RuntimeError(f"no table can be built first among {[t.table for t in waiting]}")


def _built_on(table: SqlTable, tables: list[SqlTable]) -> set[dg.AssetKey]:
    """The tables among `tables` that read `table`, directly or through others: those with
    the most start first, so that the longest chain (daily totals, churn by period, the
    forecasts) is not left for last (a full rebuild at the bench size ~1.29 -> ~1.16 s)."""
    found: set[dg.AssetKey] = set()
    frontier = {table.key}
    while frontier:
        frontier = {t.key for t in tables if frontier & set(t.deps)} - found
        found |= frontier
    return found


def build_mart_assets() -> list[dg.AssetsDefinition | dg.AssetChecksDefinition]:
    @dg.asset(
        key=REASON_CATEGORIES,
        deps=[MOVEMENTS],
        group_name="core",
        pool=WAREHOUSE_POOL,
        backfill_policy=ASSET_BACKFILL_POLICY,
        kinds={"duckdb", "python"},
        description=(
            "Each distinct raw churn reason with its category from the reason mapping "
            "(churn_pipeline/reference/reason_mapping.csv plus CHURN_REASON_MAPPING)."
        ),
    )
    def churn_reason_categories(settings: dg.ResourceParam[Settings]) -> dg.MaterializeResult:
        mapping = mapping_for(settings)
        with warehouse.open_warehouse(settings) as conn:
            reasons = [
                row[0]
                for row in conn.execute(
                    "select distinct reason_raw from core.customer_movements "
                    "where movement = 'churn' and reason_raw is not null order by 1"
                ).fetchall()
            ]
            categorized = categorize_reasons(mapping, reasons)
            warehouse.table_from_rows(
                conn, "categorized_reasons", CATEGORIZED_REASON_COLUMNS, categorized
            )
            with warehouse.transaction(conn):
                conn.execute("delete from core.churn_reason_categories")
                conn.execute(
                    "insert into core.churn_reason_categories select * from categorized_reasons"
                )
            conn.execute("drop table categorized_reasons")
        counts = Counter(category for _, category, _ in categorized)
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": len(categorized),
                "reasons_by_category": dg.MetadataValue.json(
                    dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
                ),
            }
        )

    return [
        churn_reason_categories,
        build_sql_tables_asset(build_sql_tables()),
        build_publish_asset(),
        build_html_report_asset(),
        *build_mart_checks(),
    ]


def build_sql_tables() -> list[SqlTable]:
    """Every table built by SQL alone, in dependency order."""
    daily_customer_totals = SqlTable(
        DAILY_TOTALS,
        "marts/daily_customer_totals",
        [MOVEMENTS],
        "core",
        "Active customers and MRR at the end of every day from the first to the latest snapshot, "
        "replayed from the movement log; the start/end states and exposure of every period.",
        "select * from core.daily_customer_totals order by day desc limit 10",
        record_build=True,
    )
    reporting_movements = SqlTable(
        REPORTING_MOVEMENTS,
        "reporting/customer_movements",
        [MOVEMENTS, REASON_CATEGORIES],
        "reporting",
        "One row per customer movement, with churn_type and reason_category for churns.",
        "select * from reporting.customer_movements order by movement_date desc, customer_id limit 10",
    )

    churn_by_period = SqlTable(
        CHURN_BY_PERIOD,
        ("marts/churn_by_period_init", "marts/churn_by_period"),
        [MOVEMENTS, DAILY_TOTALS],
        "reporting",
        "One row per grain and period: customer counts, logo churn rates, the MRR bridge and "
        "revenue retention (METRICS.md §4–§5), with computed_at moving only when a row's "
        "values change (restatements are visible).",
        "select period_start, is_complete, customers_start, customers_end, logo_churn_rate, "
        "mrr_start, mrr_end, nrr, grr from reporting.churn_by_period where grain = 'month' "
        "order by period_start desc limit 12",
        run_params=lambda: {"computed_at": datetime.now(UTC).replace(tzinfo=None)},
        incremental=IncrementalSql(
            "marts/churn_by_period_computed",
            "churn_by_period_computed",
            ("marts/churn_by_period_kept", "marts/churn_by_period_init", "marts/churn_by_period"),
            reads=("core.daily_customer_totals",),
        ),
    )
    churn_reasons_by_period = SqlTable(
        REASONS_BY_PERIOD,
        "marts/churn_reasons_by_period",
        [REPORTING_MOVEMENTS, CHURN_BY_PERIOD],
        "reporting",
        "Per grain, period and reason category: churned customers and MRR with their shares, "
        "and the voluntary / involuntary split (METRICS.md §6).",
        "select * from reporting.churn_reasons_by_period where grain = 'month' "
        "order by period_start desc, churned_customers desc limit 10",
    )
    kpis_by_period = SqlTable(
        dg.AssetKey(["reporting", "kpis_by_period"]),
        "marts/kpis_by_period",
        [CHURN_BY_PERIOD, DAILY_TOTALS],
        "reporting",
        "Companion KPIs per grain and period: ARPA, customer lifetime value (trailing six complete "
        "months of logo churn) and the MRR quick ratio (METRICS.md §7).",
        "select * from reporting.kpis_by_period where grain = 'month' order by period_start desc limit 12",
    )
    at_risk_customers = SqlTable(
        dg.AssetKey(["reporting", "at_risk_customers"]),
        "marts/at_risk_customers",
        [MOVEMENTS, SNAPSHOTS],
        "reporting",
        "Customers active at the latest snapshot showing a warning sign: past_due, a scheduled "
        "cancellation, a pause, or a contraction in the last 30 days; with since when and the MRR "
        "at stake (METRICS.md §7).",
        "select * from reporting.at_risk_customers limit 10",
    )
    cohort_retention = SqlTable(
        COHORT_RETENTION,
        "marts/cohort_retention",
        [MOVEMENTS, SNAPSHOTS],
        "reporting",
        "Logo and revenue retention by cohort: customers grouped by the month and the quarter of "
        "their first paying day (the opening base as cohort `opening`), and for each period since, "
        "the members still active and their MRR relative to the cohort's first period (METRICS.md §7).",
        "select cohort, period_number, is_complete, cohort_customers, active_customers, "
        "logo_retention, revenue_retention from reporting.cohort_retention "
        "where cohort_grain = 'month' order by cohort_start desc, period_number limit 12",
        incremental=IncrementalSql(
            "marts/cohort_retention_recomputed",
            "cohort_retention_rows",
            ("marts/cohort_retention_kept", "marts/cohort_retention"),
        ),
    )
    unmapped_reasons = SqlTable(
        UNMAPPED_REASONS,
        "reporting/unmapped_reasons",
        [REPORTING_MOVEMENTS, REASON_CATEGORIES],
        "reporting",
        "Raw churn reasons that matched no code or keyword (counted as `other`), with counts, "
        "churned MRR and first/last seen: what to add to the reason mapping.",
        "select * from reporting.unmapped_reasons limit 10",
    )
    return [  # in dependency order
        daily_customer_totals,
        reporting_movements,
        churn_by_period,
        churn_reasons_by_period,
        unmapped_reasons,
        kpis_by_period,
        at_risk_customers,
        cohort_retention,
        *build_lifetime_tables(),
    ]


def build_lifetime_tables() -> list[SqlTable]:
    """Tenure, survival, seasonality and the back-tested forecast (METRICS.md §7)."""
    return [
        SqlTable(
            CUSTOMER_MONTHS,
            "marts/customer_months",
            [MOVEMENTS],
            "core",
            "One row per customer and calendar month at whose start it was active: tenure month, "
            "MRR at start, active at the end. The exposure unit of tenure hazards and forecasts.",
            "select * from core.customer_months order by month_start desc, customer_id limit 10",
            incremental=IncrementalSql(
                "marts/customer_months_recomputed",
                "customer_months_rows",
                (
                    "marts/customer_months_delete_recomputed",
                    "marts/customer_months_insert_recomputed",
                ),
            ),
        ),
        SqlTable(
            CHURN_BY_TENURE,
            "marts/churn_by_tenure",
            [CUSTOMER_MONTHS],
            "reporting",
            "Life table by tenure month (months since the first paying day): customers exposed at "
            "the start of a complete month, churned by its end, hazard; the opening base apart.",
            "select * from reporting.churn_by_tenure order by tenure_month nulls last limit 15",
        ),
        SqlTable(
            CUSTOMER_SURVIVAL,
            "marts/customer_survival",
            [MOVEMENTS],
            "reporting",
            "Kaplan–Meier curve of customer lifetime (first paying day to first churn, customers "
            "still active right-censored; opening base left out) with a Greenwood 95% interval.",
            "select * from reporting.customer_survival order by tenure_days limit 15",
        ),
        SqlTable(
            CHURN_SEASONALITY,
            "marts/churn_seasonality",
            [CHURN_BY_PERIOD],
            "reporting",
            "Churn by month of the year over the history: pooled logo churn rate per calendar "
            "month, its spread across years, and an index against the overall rate.",
            "select month_name, months_observed, logo_churn_rate, churn_index "
            "from reporting.churn_seasonality order by month_of_year",
        ),
        SqlTable(
            CHURN_FORECASTS,
            "marts/churn_forecasts",
            [CUSTOMER_MONTHS, CHURN_BY_PERIOD],
            "core",
            "The tenure-hazard forecast for every complete past month and quarter (from the day "
            "before each) and for the next month and quarter after the latest snapshot.",
            "select forecast_kind, grain, period_start, expected_churned_customers, "
            "actual_churned_customers from core.churn_forecasts order by period_start desc limit 10",
            incremental=IncrementalSql(
                "marts/churn_forecasts_recomputed",
                "churn_forecasts_rows",
                ("marts/churn_forecasts_kept", "marts/churn_forecasts"),
                reads=("core.customer_months", "reporting.churn_by_period"),
            ),
        ),
        SqlTable(
            FORECAST_BACKTEST,
            "marts/churn_forecast_backtest",
            [CHURN_FORECASTS],
            "reporting",
            "The forecast method on every past month and quarter it could have forecast, against "
            "what happened and the naive 'same rate as last period' baseline, with mean errors.",
            "select grain, period_start, forecast_churned_customers, actual_churned_customers, "
            "naive_churned_customers from reporting.churn_forecast_backtest "
            "order by grain, period_start desc limit 12",
        ),
        SqlTable(
            CHURN_FORECAST,
            "marts/churn_forecast",
            [CHURN_FORECASTS, FORECAST_BACKTEST],
            "reporting",
            "Expected churned customers and MRR in the next month and quarter after the latest "
            "snapshot, from the trailing year's tenure hazards, with a 95% interval and the "
            "back-test error beside it.",
            "select * from reporting.churn_forecast",
        ),
    ]


def build_mart_checks() -> list[dg.AssetChecksDefinition]:
    checks = [
        QueryCheck(
            CHURN_BY_PERIOD,
            "customer_identity",
            "customers_end = customers_start + new + reactivated − churned on every row of every grain.",
            "checks/churn_by_period_customer_identity",
        ),
        QueryCheck(
            CHURN_BY_PERIOD,
            "mrr_bridge_identity",
            "mrr_end = mrr_start + new + reactivation + expansion − contraction − churned, to the cent.",
            "checks/churn_by_period_mrr_bridge_identity",
        ),
        QueryCheck(
            CHURN_BY_PERIOD,
            "rates_within_bounds",
            "logo_churn_rate and grr lie in [0, 1]; nrr and the exposure-based rate are not negative.",
            "checks/churn_by_period_rates_out_of_bounds",
        ),
        QueryCheck(
            REASONS_BY_PERIOD,
            "reasons_reconcile_with_churn",
            "Per period, the reason categories add up to churned_customers and churned_mrr.",
            "checks/reasons_not_reconciled",
        ),
    ]
    return [query_checks_step("reporting_checks", checks, warehouse.open_warehouse)]


def build_publish_asset() -> dg.AssetsDefinition:
    @dg.asset(
        key=["reporting", "published_copy"],
        deps=[
            REPORTING_MOVEMENTS,
            CHURN_BY_PERIOD,
            REASONS_BY_PERIOD,
            UNMAPPED_REASONS,
            dg.AssetKey(["reporting", "kpis_by_period"]),
            dg.AssetKey(["reporting", "at_risk_customers"]),
            CHURN_BY_TENURE,
            CUSTOMER_SURVIVAL,
            CHURN_SEASONALITY,
            CHURN_FORECAST,
            FORECAST_BACKTEST,
            COHORT_RETENTION,
        ],
        group_name="reporting",
        pool=WAREHOUSE_POOL,
        backfill_policy=ASSET_BACKFILL_POLICY,
        kinds={"duckdb", "parquet"},
        description=(
            "A read-only copy of every reporting table in CHURN_PUBLISHED_DIR/reporting.duckdb and "
            "as Parquet under CHURN_PUBLISHED_DIR/parquet, replaced atomically; what "
            "`churn-pipeline query` and BI tools read while the warehouse is being written."
        ),
    )
    def published_copy(settings: dg.ResourceParam[Settings]) -> dg.MaterializeResult:
        with warehouse.open_warehouse(settings) as conn:
            counts = publish(conn, settings)
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(settings.published_dir / "reporting.duckdb")),
                "tables": dg.MetadataValue.json(counts),
            }
        )

    return published_copy


def build_html_report_asset() -> dg.AssetsDefinition:
    @dg.asset(
        key=["reporting", "html_report"],
        deps=[dg.AssetKey(["reporting", "published_copy"])],
        group_name="reporting",
        backfill_policy=ASSET_BACKFILL_POLICY,
        kinds={"html", "plotly"},
        description=(
            "The visual report (CHURN_PUBLISHED_DIR/report.html): headline numbers of the last "
            "complete month, churn rates over time, the MRR bridge, the reason mix. Self-contained: "
            "opens with no network. Rendered from the published copy."
        ),
    )
    def html_report(settings: dg.ResourceParam[Settings]) -> dg.MaterializeResult:
        path = write_html_report(settings, settings.published_dir / "report.html", "month")
        return dg.MaterializeResult(
            metadata={"path": dg.MetadataValue.path(str(path)), "bytes": path.stat().st_size}
        )

    return html_report
