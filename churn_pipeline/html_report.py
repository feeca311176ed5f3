"""The visual churn report: one self-contained HTML page (plotly.js inlined, no network).

`render_html_report` reads `reporting.churn_by_period` and `reporting.churn_reasons_by_period`
through any read-only connection on which those names resolve (the warehouse opened
read-only, where `reporting` is a schema, or the published copy attached as `reporting`)
and returns the page: the headline numbers of the last complete period, churn rates over
time, the MRR bridge of the last complete period, the reason mix over time, the churned
MRR per reason, and the lifetime panels of `lifetime_charts` (cohort heatmap, survival curve,
forecast against its back-test). Numbers are formatted as `churn-pipeline report` prints them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

import duckdb
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from churn_pipeline.charts import (
    FONT,
    base_layout,
    chart_html,
    empty,
    major_units,
    period_label,
)
from churn_pipeline.lifetime_charts import (
    cohort_heatmap,
    forecast_panel,
    lifetime_grain,
    survival_chart,
)
from churn_pipeline.report import GRAINS, money, percent, rows
from churn_pipeline.settings import Settings

PERIODS_SQL = """
select period_start, period_end, is_complete, customers_start, customers_end,
       churned_customers, logo_churn_rate, gross_logo_churn_rate,
       mrr_start, new_mrr, reactivation_mrr, expansion_mrr, contraction_mrr, churned_mrr, mrr_end,
       gross_mrr_churn_rate, net_mrr_churn_rate, nrr, computed_at
from reporting.churn_by_period
where grain = $grain
order by period_start
"""
REASONS_SQL = """
select period_start, reason_category, churned_customers, share_of_churned_customers,
       churned_mrr, share_of_churned_mrr
from reporting.churn_reasons_by_period
where grain = $grain
order by period_start, reason_category
"""

# (column, label); the cells carry data-metric="<column>" so tests can find them
HEADLINE_METRICS = (
    ("period_start", "period"),
    ("customers_start", "customers start"),
    ("customers_end", "customers end"),
    ("logo_churn_rate", "logo churn"),
    ("gross_logo_churn_rate", "gross logo churn"),
    ("mrr_start", "MRR start"),
    ("mrr_end", "MRR end"),
    ("gross_mrr_churn_rate", "gross MRR churn"),
    ("net_mrr_churn_rate", "net MRR churn"),
    ("nrr", "NRR"),
)
RATE_SERIES = (
    ("logo_churn_rate", "logo churn", "#0072B2"),
    ("gross_mrr_churn_rate", "gross MRR churn", "#D55E00"),
    ("net_mrr_churn_rate", "net MRR churn", "#009E73"),
)
# docs/tables.md order; colours from the Okabe-Ito palette (readable with colour blindness)
REASON_COLOURS = {
    "price_financial": "#E69F00",
    "no_value": "#56B4E9",
    "unmet_expectations": "#009E73",
    "competitor": "#D55E00",
    "poor_service": "#CC79A7",
    "payment_failed": "#0072B2",
    "other": "#999999",
    "unknown": "#CFCFCF",
}
# auto-fill, not auto-fit: each chart sizes itself while the page is still being parsed,
# so the column count must not depend on how many panels exist yet
STYLE = """
body { font-family: %(font)s; margin: 0; padding: 24px 32px; color: #1f2933; background: #fff; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 0 0 8px; }
.about { color: #52606d; font-size: 13px; margin: 0 0 20px; }
.headline { border-collapse: collapse; font-size: 14px; margin: 0 0 6px; }
.headline th, .headline td { padding: 6px 12px; text-align: right; border-bottom: 1px solid #d9e2ec; }
.headline th { color: #52606d; font-weight: 600; font-size: 12px; }
.headline td { font-variant-numeric: tabular-nums; font-size: 16px; white-space: nowrap; }
.headline th:first-child, .headline td:first-child { text-align: left; }
.note { color: #52606d; font-size: 12px; margin: 4px 0 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 24px; margin-top: 24px; }
.panel { border: 1px solid #d9e2ec; border-radius: 6px; padding: 14px 16px; min-width: 0; }
.empty { color: #7b8794; font-style: italic; padding: 24px 0; margin: 0; }
""" % {"font": FONT}  # noqa: UP031 (the CSS is full of braces)


@dataclass(frozen=True)
class ReportData:
    grain: str
    currency: str
    periods: list[dict[str, Any]]
    reasons: list[dict[str, Any]]

    @property
    def complete(self) -> list[dict[str, Any]]:
        return [p for p in self.periods if p["is_complete"]]

    @property
    def last_complete(self) -> dict[str, Any] | None:
        complete = self.complete
        return complete[-1] if complete else None

    @property
    def running(self) -> list[dict[str, Any]]:
        return [p for p in self.periods if not p["is_complete"]]

    def reasons_of(self, period_start: date) -> list[dict[str, Any]]:
        return [r for r in self.reasons if r["period_start"] == period_start]


def render_html_report(conn: duckdb.DuckDBPyConnection, currency: str, grain: str = "month") -> str:
    """The whole report as one HTML page that opens without network access."""
    if grain not in GRAINS:
        raise ValueError(f"grain must be one of {', '.join(GRAINS)}; got {grain!r}")
    data = ReportData(
        grain=grain,
        currency=currency.upper(),
        periods=rows(conn, PERIODS_SQL, {"grain": grain}),
        reasons=rows(conn, REASONS_SQL, {"grain": grain}),
    )
    body = "\n".join(
        (
            f"<h1>Subscription churn by {escape(grain_name(grain))}</h1>",
            about_line(data, datetime.now(UTC)),
            headline_section(data),
            '<div class="grid">',
            panel("rates", "Churn rates over time", rates_chart(data)),
            panel("bridge", bridge_title(data), bridge_chart(data)),
            panel(
                "reason-mix", "Reason mix over time (share of churned customers)", mix_chart(data)
            ),
            panel("reason-mrr", reason_mrr_title(data), reason_mrr_chart(data)),
            panel(
                "cohorts",
                f"Cohort retention by {lifetime_grain(grain)} (logo)",
                cohort_heatmap(conn, grain),
            ),
            panel("survival", "Customer survival (Kaplan–Meier)", survival_chart(conn)),
            panel("forecast", *forecast_panel(conn, grain, currency)),
            "</div>",
        )
    )
    return page(f"Churn report by {grain_name(grain)}", body)


def write_html_report(settings: Settings, path: Path, grain: str = "month") -> Path:
    """Render the report from the published copy (what `report --html` is meant to call)."""
    from churn_pipeline.query import open_published

    conn = open_published(settings)
    try:
        html = render_html_report(conn, settings.currency, grain)
    finally:
        conn.close()
    path.write_text(html, encoding="utf-8")
    return path


def page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n"
        f'<script type="text/javascript">{get_plotlyjs()}</script>\n'
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def panel(panel_id: str, title: str, content: str) -> str:
    return (
        f'<section class="panel" id="{panel_id}">\n<h2>{escape(title)}</h2>\n{content}\n</section>'
    )


def grain_name(grain: str) -> str:
    return grain.replace("_", "-")


def period_span(period: dict[str, Any]) -> str:
    last_day = period["period_end"] - timedelta(days=1)
    return f"{period['period_start']} to {last_day}"


def about_line(data: ReportData, now: datetime) -> str:
    generated = f"generated {now:%Y-%m-%d %H:%M} UTC"
    if not data.periods:
        return f'<p class="about">No {grain_name(data.grain)} rows in reporting.churn_by_period yet; {generated}.</p>'
    complete = data.complete
    shown = (
        f"{len(complete)} complete {grain_name(data.grain)}(s), "
        f"{period_label(data.grain, complete[0]['period_start'])} to "
        f"{period_label(data.grain, complete[-1]['period_start'])}"
        if complete
        else f"no complete {grain_name(data.grain)} yet"
    )
    running = (
        f"; the running {grain_name(data.grain)} "
        f"{period_label(data.grain, data.running[-1]['period_start'])} is left out"
        if data.running
        else ""
    )
    computed = max(p["computed_at"] for p in data.periods)
    return (
        f'<p class="about">From reporting.churn_by_period and reporting.churn_reasons_by_period: '
        f"{escape(shown)}{escape(running)}. Money in {escape(data.currency)}. "
        f"Tables last changed {computed:%Y-%m-%d %H:%M} UTC; {generated}.</p>"
    )


def headline_cell(column: str, period: dict[str, Any], currency: str) -> str:
    value = period[column]
    if column == "period_start":
        return str(value)
    if column.startswith("customers_"):
        return f"{value:,}"
    if column.startswith("mrr_"):
        return money(value, currency)
    return percent(value)


def headline_section(data: ReportData) -> str:
    period = data.last_complete
    if period is None:
        return panel(
            "headline",
            f"Last complete {grain_name(data.grain)}",
            empty(
                f"No complete {grain_name(data.grain)} yet: a period is complete once a snapshot "
                "exists on or after its last day."
            ),
        )
    header = "".join(
        f"<th>{escape(label)}{' (' + escape(data.currency) + ')' if column.startswith('mrr_') else ''}</th>"
        for column, label in HEADLINE_METRICS
    )
    cells = "".join(
        f'<td data-metric="{column}">{escape(headline_cell(column, period, data.currency))}</td>'
        for column, _ in HEADLINE_METRICS
    )
    title = (
        f"Last complete {grain_name(data.grain)}: "
        f"{period_label(data.grain, period['period_start'])} ({period_span(period)})"
    )
    table = (
        f'<table class="headline"><thead><tr>{header}</tr></thead>'
        f"<tbody><tr>{cells}</tr></tbody></table>"
    )
    note = (
        '<p class="note">logo churn = customers active at start and gone at end ÷ customers at '
        "start; gross logo churn also counts join-and-leave; gross MRR churn = 1 − GRR; "
        "net MRR churn = 1 − NRR (negative: net expansion).</p>"
    )
    return f'<section id="headline">\n<h2>{escape(title)}</h2>\n{table}\n{note}\n</section>'


def rates_chart(data: ReportData) -> str:
    complete = data.complete
    if not complete:
        return empty(f"No complete {grain_name(data.grain)} yet, so no rates to plot.")
    labels = [period_label(data.grain, p["period_start"]) for p in complete]
    figure = go.Figure(
        [
            go.Scatter(
                x=labels,
                y=[p[column] for p in complete],
                name=name,
                mode="lines+markers",
                line={"color": colour, "width": 2},
                hovertemplate=f"{name}: %{{y:.1%}}<extra>%{{x}}</extra>",
            )
            for column, name, colour in RATE_SERIES
        ],
        layout=base_layout(
            xaxis={"type": "category", "gridcolor": "#eef2f6"},
            yaxis={
                "tickformat": ".1%",
                "gridcolor": "#eef2f6",
                "zerolinecolor": "#9aa5b1",
                "rangemode": "tozero",
            },
            hovermode="x unified",
        ),
    )
    return chart_html(figure, "chart-rates")


def bridge_title(data: ReportData) -> str:
    period = data.last_complete
    if period is None:
        return "MRR bridge"
    return f"MRR bridge, {period_label(data.grain, period['period_start'])} ({data.currency})"


def bridge_chart(data: ReportData) -> str:
    period = data.last_complete
    if period is None:
        return empty(f"No complete {grain_name(data.grain)} yet, so no MRR bridge.")
    steps = (
        ("MRR start", "absolute", period["mrr_start"]),
        ("new", "relative", period["new_mrr"]),
        ("reactivation", "relative", period["reactivation_mrr"]),
        ("expansion", "relative", period["expansion_mrr"]),
        ("contraction", "relative", -period["contraction_mrr"]),
        ("churned", "relative", -period["churned_mrr"]),
        ("MRR end", "absolute", period["mrr_end"]),
    )
    text = [
        money(value, data.currency)
        if measure == "absolute"
        else ("+" if value >= 0 else "−") + money(abs(value), data.currency)
        for _, measure, value in steps
    ]
    figure = go.Figure(
        go.Waterfall(
            x=[label for label, _, _ in steps],
            measure=[measure for _, measure, _ in steps],
            y=[major_units(value, data.currency) for _, _, value in steps],
            text=text,
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{x}: %{text}<extra></extra>",
            increasing={"marker": {"color": "#2E7D32"}},
            decreasing={"marker": {"color": "#C62828"}},
            totals={"marker": {"color": "#52606D"}},
            connector={"line": {"color": "#9aa5b1", "width": 1}},
        ),
        layout=base_layout(
            showlegend=False,
            uniformtext={"mode": "show", "minsize": 11},  # same size inside and outside bars
            margin={"l": 70, "r": 20, "t": 30, "b": 40},
            yaxis={"tickformat": ",.0f", "gridcolor": "#eef2f6", "rangemode": "tozero"},
        ),
    )
    return chart_html(figure, "chart-bridge")


def reason_order(reasons: list[dict[str, Any]]) -> list[str]:
    present = {r["reason_category"] for r in reasons}
    known = [c for c in REASON_COLOURS if c in present]
    return known + sorted(present - set(REASON_COLOURS))


def mix_chart(data: ReportData) -> str:
    complete = data.complete
    if not complete:
        return empty(f"No complete {grain_name(data.grain)} yet, so no reason mix.")
    starts = {p["period_start"] for p in complete}
    reasons = [r for r in data.reasons if r["period_start"] in starts]
    if not reasons:
        return empty(f"No customer churned in any complete {grain_name(data.grain)}.")
    labels = [period_label(data.grain, p["period_start"]) for p in complete]
    traces = []
    for category in reason_order(reasons):
        of_category = [r for r in reasons if r["reason_category"] == category]
        traces.append(
            go.Bar(
                x=[period_label(data.grain, r["period_start"]) for r in of_category],
                y=[r["share_of_churned_customers"] for r in of_category],
                customdata=[r["churned_customers"] for r in of_category],
                name=category,
                marker={"color": REASON_COLOURS.get(category, "#616E7C")},
                hovertemplate=f"{category}: %{{y:.1%}} (%{{customdata}} customers)<extra>%{{x}}</extra>",
            )
        )
    figure = go.Figure(
        traces,
        layout=base_layout(
            barmode="stack",
            legend={"traceorder": "reversed"},  # listed top-down, as stacked
            xaxis={"type": "category", "categoryorder": "array", "categoryarray": labels},
            yaxis={"tickformat": ".0%", "range": [0, 1], "gridcolor": "#eef2f6"},
        ),
    )
    return chart_html(figure, "chart-reason-mix")


def reason_mrr_title(data: ReportData) -> str:
    period = data.last_complete
    if period is None:
        return "Churned MRR by reason"
    label = period_label(data.grain, period["period_start"])
    return f"Churned MRR by reason, {label} ({data.currency})"


def reason_mrr_chart(data: ReportData) -> str:
    period = data.last_complete
    if period is None:
        return empty(f"No complete {grain_name(data.grain)} yet, so no churned MRR by reason.")
    reasons = sorted(
        data.reasons_of(period["period_start"]),
        key=lambda r: (r["churned_mrr"], r["reason_category"]),
    )
    if not reasons:
        label = period_label(data.grain, period["period_start"])
        return empty(f"No customer churned in {label}.")
    figure = go.Figure(
        go.Bar(
            x=[major_units(r["churned_mrr"], data.currency) for r in reasons],
            y=[r["reason_category"] for r in reasons],
            orientation="h",
            text=[money(r["churned_mrr"], data.currency) for r in reasons],
            textposition="outside",
            cliponaxis=False,
            customdata=[
                [r["churned_customers"], percent(r["share_of_churned_mrr"])] for r in reasons
            ],
            marker={
                "color": [REASON_COLOURS.get(r["reason_category"], "#616E7C") for r in reasons]
            },
            hovertemplate=(
                "%{y}: %{text} (%{customdata[1]} of churned MRR, "
                "%{customdata[0]} customers)<extra></extra>"
            ),
        ),
        layout=base_layout(
            showlegend=False,
            margin={"l": 130, "r": 80, "t": 30, "b": 40},
            xaxis={"tickformat": ",.0f", "gridcolor": "#eef2f6", "rangemode": "tozero"},
            yaxis={"type": "category"},
        ),
    )
    return chart_html(figure, "chart-reason-mrr")
