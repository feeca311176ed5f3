"""The headline tables printed by `churn-pipeline run` and `churn-pipeline report`."""

from __future__ import annotations

from typing import Any

import duckdb
from rich.console import Console
from rich.table import Table

from churn_pipeline.settings import currency_exponent

GRAINS = ("day", "week", "month", "quarter", "half_year", "year")
HEADLINE_SQL = """
select period_start, is_complete, customers_start, customers_end, logo_churn_rate,
       gross_logo_churn_rate, mrr_start, mrr_end, gross_mrr_churn_rate, net_mrr_churn_rate, nrr
from reporting.churn_by_period
where grain = $grain
order by period_start
"""
LAST_COMPLETE_REASONS_SQL = """
with last_complete as (
    select max(period_start) as period_start
    from reporting.churn_by_period
    where grain = $grain and is_complete
)
select reasons.period_start, reasons.reason_category, reasons.churned_customers,
       reasons.share_of_churned_customers, reasons.churned_mrr, reasons.share_of_churned_mrr,
       reasons.voluntary_customers, reasons.involuntary_customers
from reporting.churn_reasons_by_period as reasons
inner join last_complete using (period_start)
where reasons.grain = $grain
order by reasons.churned_customers desc, reasons.reason_category
"""


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def money(minor_units: int | None, currency: str) -> str:
    if minor_units is None:
        return "—"
    exponent = currency_exponent(currency)
    return f"{minor_units / 10**exponent:,.{exponent}f}"


def rows(
    conn: duckdb.DuckDBPyConnection, query: str, params: dict[str, Any]
) -> list[dict[str, Any]]:
    cursor = conn.execute(query, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def headline_table(
    conn: duckdb.DuckDBPyConnection, grain: str, currency: str, limit: int | None = None
) -> Table:
    data = rows(conn, HEADLINE_SQL, {"grain": grain})
    if limit is not None:
        data = data[-limit:]
    table = Table(
        title=f"Churn by {grain.replace('_', '-')} ({currency}; * = period still running)"
    )
    for name in ("period", "customers start", "customers end", "logo churn", "gross logo churn",
                 "MRR start", "MRR end", "gross MRR churn", "net MRR churn", "NRR"):  # fmt: skip
        table.add_column(name, justify="left" if name == "period" else "right")
    for row in data:
        table.add_row(
            f"{row['period_start']}{'' if row['is_complete'] else ' *'}",
            f"{row['customers_start']:,}",
            f"{row['customers_end']:,}",
            percent(row["logo_churn_rate"]),
            percent(row["gross_logo_churn_rate"]),
            money(row["mrr_start"], currency),
            money(row["mrr_end"], currency),
            percent(row["gross_mrr_churn_rate"]),
            percent(row["net_mrr_churn_rate"]),
            percent(row["nrr"]),
        )
    return table


def reasons_table(conn: duckdb.DuckDBPyConnection, grain: str, currency: str) -> Table | None:
    data = rows(conn, LAST_COMPLETE_REASONS_SQL, {"grain": grain})
    if not data:
        return None
    table = Table(
        title=f"Churn reasons, last complete {grain.replace('_', '-')} starting {data[0]['period_start']}"
    )
    for name in (
        "reason",
        "churned",
        "share",
        "churned MRR",
        "MRR share",
        "voluntary",
        "involuntary",
    ):
        table.add_column(name, justify="left" if name == "reason" else "right")
    for row in data:
        table.add_row(
            row["reason_category"],
            f"{row['churned_customers']:,}",
            percent(row["share_of_churned_customers"]),
            money(row["churned_mrr"], currency),
            percent(row["share_of_churned_mrr"]),
            f"{row['voluntary_customers']:,}",
            f"{row['involuntary_customers']:,}",
        )
    return table


def print_report(
    conn: duckdb.DuckDBPyConnection,
    grain: str,
    currency: str,
    console: Console,
    limit: int | None = None,
) -> None:
    console.print(headline_table(conn, grain, currency, limit))
    reasons = reasons_table(conn, grain, currency)
    if reasons is not None:
        console.print(reasons)
