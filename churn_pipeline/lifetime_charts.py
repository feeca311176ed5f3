"""The report's lifetime panels: cohort retention heatmap, survival curve, forecast vs back-test.

Each reads its `reporting` table through the same read-only connection as the rest of the
report; a table that does not exist yet (an older published copy) gives a message, not an error.
Cohorts and forecasts exist for months and quarters: other report grains show the month.
"""

from __future__ import annotations

from typing import Any

import duckdb
import plotly.graph_objects as go

from churn_pipeline.charts import base_layout, chart_html, empty, period_label
from churn_pipeline.report import money, percent, rows

LIFETIME_GRAINS = ("month", "quarter")
COHORTS_SQL = """
select cohort, cohort_start, period_number, is_complete, cohort_customers, active_customers,
       logo_retention, revenue_retention
from reporting.cohort_retention
where cohort_grain = $grain
order by cohort_start, period_number
"""
SURVIVAL_SQL = """
select tenure_months, customers_at_risk, survival, survival_ci_low, survival_ci_high
from reporting.customer_survival
order by tenure_days
"""
BACKTEST_SQL = """
select period_start, forecast_churned_customers, forecast_churned_customers_low,
       forecast_churned_customers_high, actual_churned_customers, naive_churned_customers,
       mean_abs_error_customers, naive_mean_abs_error_customers, backtest_periods
from reporting.churn_forecast_backtest
where grain = $grain
order by period_start
"""
FORECAST_SQL = """
select period_start, period_end, origin_date, customers_at_origin, expected_churned_customers,
       churned_customers_low, churned_customers_high, expected_churned_mrr, churned_mrr_low,
       churned_mrr_high, backtest_mae_customers, naive_mae_customers, backtest_periods
from reporting.churn_forecast
where grain = $grain
"""
FORECAST_COLOUR = "#0072B2"
ACTUAL_COLOUR = "#1f2933"
NAIVE_COLOUR = "#E69F00"


def lifetime_grain(grain: str) -> str:
    return grain if grain in LIFETIME_GRAINS else "month"


def _read(
    conn: duckdb.DuckDBPyConnection, query: str, params: dict[str, Any]
) -> list[dict[str, Any]] | None:
    """The rows, or None when the table is not in this copy of the outputs."""
    try:
        return rows(conn, query, params)
    except duckdb.CatalogException:
        return None


def cohort_heatmap(conn: duckdb.DuckDBPyConnection, grain: str) -> str:
    grain = lifetime_grain(grain)
    cells = _read(conn, COHORTS_SQL, {"grain": grain})
    if cells is None:
        return empty("reporting.cohort_retention is not in these outputs yet: run the pipeline.")
    if not cells:
        return empty(f"No {grain} cohort yet.")
    cohorts = list(dict.fromkeys(c["cohort"] for c in cells))
    periods = sorted({c["period_number"] for c in cells})
    position = {(c["cohort"], c["period_number"]): c for c in cells}
    z, text, hover = [], [], []
    for cohort in cohorts:
        z_row, text_row, hover_row = [], [], []
        for number in periods:
            cell = position.get((cohort, number))
            if cell is None:
                z_row.append(None)
                text_row.append("")
                hover_row.append("")
                continue
            mark = "" if cell["is_complete"] else "*"
            z_row.append(cell["logo_retention"])
            text_row.append(f"{cell['logo_retention']:.0%}{mark}")
            hover_row.append(
                f"cohort {cohort} ({cell['cohort_customers']:,} customers), {grain} {number}: "
                f"{cell['active_customers']:,} active, logo {percent(cell['logo_retention'])}, "
                f"revenue {percent(cell['revenue_retention'])}"
                + ("" if cell["is_complete"] else " (incomplete: measured to the latest snapshot)")
            )
        z.append(z_row)
        text.append(text_row)
        hover.append(hover_row)
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(n) for n in periods],
            y=cohorts,
            text=text,
            texttemplate="%{text}",
            textfont={"size": 10},
            customdata=hover,
            hovertemplate="%{customdata}<extra></extra>",
            colorscale="Blues",
            zmin=0,
            zmax=1,
            showscale=False,  # every cell prints its value
        ),
        layout=base_layout(
            height=max(400, 60 + 22 * len(cohorts)),
            margin={"l": 80, "r": 20, "t": 30, "b": 50},
            xaxis={"title": {"text": f"{grain}s since the cohort's first", "standoff": 4}},
            yaxis={"autorange": "reversed", "type": "category"},
        ),
    )
    note = (
        '<p class="note">Share of each cohort (customers by the first '
        f"{grain} they paid) still active at the end of each {grain}; * = incomplete cell, "
        "measured to the latest snapshot. Hover for revenue retention.</p>"
    )
    return chart_html(figure, "chart-cohorts") + note


def survival_chart(conn: duckdb.DuckDBPyConnection) -> str:
    points = _read(conn, SURVIVAL_SQL, {})
    if points is None:
        return empty("reporting.customer_survival is not in these outputs yet: run the pipeline.")
    if not points:
        return empty("No customer with a known first paying day yet, so no survival curve.")
    months = [0.0] + [p["tenure_months"] for p in points]
    survival = [1.0] + [p["survival"] for p in points]
    low = [1.0] + [p["survival_ci_low"] for p in points]
    high = [1.0] + [p["survival_ci_high"] for p in points]
    step = {"shape": "hv"}
    figure = go.Figure(
        [
            go.Scatter(
                x=months,
                y=high,
                mode="lines",
                line={"width": 0, **step},
                hoverinfo="skip",
                showlegend=False,
            ),
            go.Scatter(
                x=months,
                y=low,
                mode="lines",
                line={"width": 0, **step},
                fill="tonexty",
                fillcolor="rgba(0,114,178,0.15)",
                name="95% interval",
                hoverinfo="skip",
            ),
            go.Scatter(
                x=months,
                y=survival,
                mode="lines",
                name="Kaplan–Meier",
                line={"color": FORECAST_COLOUR, "width": 2, **step},
                hovertemplate="%{x:.1f} months: %{y:.1%} still on their first lifetime<extra></extra>",
            ),
        ],
        layout=base_layout(
            xaxis={"title": {"text": "months since the first paying day"}, "rangemode": "tozero"},
            yaxis={"tickformat": ".0%", "range": [0, 1.02], "gridcolor": "#eef2f6"},
        ),
    )
    note = (
        '<p class="note">Customers still active are censored; the opening base (first paying '
        "day before the data) is left out.</p>"
    )
    return chart_html(figure, "chart-survival") + note


def forecast_panel(conn: duckdb.DuckDBPyConnection, grain: str, currency: str) -> tuple[str, str]:
    """The forecast panel's title (with the back-test error) and its chart."""
    grain = lifetime_grain(grain)
    backtest = _read(conn, BACKTEST_SQL, {"grain": grain})
    forecast = _read(conn, FORECAST_SQL, {"grain": grain})
    return forecast_title(grain, forecast), forecast_chart(grain, currency, backtest, forecast)


def forecast_title(grain: str, forecast: list[dict[str, Any]] | None) -> str:
    if not forecast or forecast[0]["backtest_mae_customers"] is None:
        return f"Churn forecast by {grain}"
    row = forecast[0]
    return (
        f"Churn forecast by {grain}: back-test error {row['backtest_mae_customers']:.1f} "
        f"customers (naive {row['naive_mae_customers']:.1f}) over {row['backtest_periods']} periods"
    )


def forecast_chart(
    grain: str,
    currency: str,
    backtest: list[dict[str, Any]] | None,
    forecast: list[dict[str, Any]] | None,
) -> str:
    if backtest is None or forecast is None:
        return empty("The forecast tables are not in these outputs yet: run the pipeline.")
    if not backtest and not forecast:
        return empty(f"Not enough history for a {grain} forecast yet: it needs a trailing window.")
    labels = [period_label(grain, r["period_start"]) for r in backtest]
    traces = [
        go.Scatter(
            x=labels,
            y=[r["actual_churned_customers"] for r in backtest],
            name="actual",
            mode="lines+markers",
            line={"color": ACTUAL_COLOUR, "width": 2},
        ),
        go.Scatter(
            x=labels,
            y=[r["naive_churned_customers"] for r in backtest],
            name="naive: last period's rate",
            mode="lines",
            line={"color": NAIVE_COLOUR, "width": 1.5, "dash": "dot"},
        ),
    ]
    # (period, expected, low, high): the back-tested periods, then the next one
    points = [
        (
            period_label(grain, r["period_start"]),
            r["forecast_churned_customers"],
            r["forecast_churned_customers_low"],
            r["forecast_churned_customers_high"],
        )
        for r in backtest
    ] + [
        (
            period_label(grain, r["period_start"]),
            r["expected_churned_customers"],
            r["churned_customers_low"],
            r["churned_customers_high"],
        )
        for r in forecast
    ]
    traces.append(
        go.Scatter(
            x=[period for period, *_ in points],
            y=[expected for _, expected, _, _ in points],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [high - expected for _, expected, _, high in points],
                "arrayminus": [expected - low for _, expected, low, _ in points],
                "color": FORECAST_COLOUR,
                "thickness": 1,
            },
            name="forecast (95% interval)",
            mode="markers",
            marker={"color": FORECAST_COLOUR, "size": 8},
            hovertemplate="forecast %{y:.1f}<extra>%{x}</extra>",
        )
    )
    figure = go.Figure(
        traces,
        layout=base_layout(
            xaxis={"type": "category", "gridcolor": "#eef2f6"},
            yaxis={
                "title": {"text": "customers lost"},
                "rangemode": "tozero",
                "gridcolor": "#eef2f6",
            },
            hovermode="x unified",
        ),
    )
    note = ""
    if forecast:
        row = forecast[0]
        note = (
            f'<p class="note" id="forecast-next">Next {grain} ({row["period_start"]}): '
            f"{row['expected_churned_customers']:.0f} customers "
            f"({row['churned_customers_low']:.0f}–{row['churned_customers_high']:.0f}) of "
            f"{row['customers_at_origin']:,} active on {row['origin_date']}, "
            f"{money(round(row['expected_churned_mrr']), currency)} MRR "
            f"({money(round(row['churned_mrr_low']), currency)}–"
            f"{money(round(row['churned_mrr_high']), currency)} {currency}).</p>"
        )
    return chart_html(figure, "chart-forecast") + note
