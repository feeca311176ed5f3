"""Shared look of the report's charts: fonts, sizes, layout and the plotly export settings."""

from __future__ import annotations

from datetime import date
from html import escape
from typing import Any

import plotly.graph_objects as go

from churn_pipeline.settings import currency_exponent

FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
CHART_HEIGHT = 400
# no "send to Plotly Cloud" button (plotly.js 4 shows one by default): the data stays local
PLOTLY_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "showSendToCloud": False,
    "modeBarButtonsToRemove": ["select2d", "lasso2d"],
}


def empty(message: str) -> str:
    return f'<p class="empty">{escape(message)}</p>'


def major_units(minor_units: int, currency: str) -> float:
    return minor_units / 10 ** currency_exponent(currency)


def base_layout(**extra: Any) -> dict[str, Any]:
    return {
        "height": CHART_HEIGHT,
        "margin": {"l": 60, "r": 20, "t": 30, "b": 50},
        "font": {"family": FONT, "size": 12},
        "plot_bgcolor": "#ffffff",
        "paper_bgcolor": "#ffffff",
        "legend": {"orientation": "h", "y": -0.15},
        **extra,
    }


def chart_html(figure: go.Figure, div_id: str) -> str:
    return figure.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config=PLOTLY_CONFIG,
        default_height=f"{CHART_HEIGHT}px",
    )


def period_label(grain: str, start: date) -> str:
    """Short period name: 2025-02, 2025-Q1, 2025-H1, 2025-W06, 2025, or the day."""
    if grain == "month":
        return f"{start:%Y-%m}"
    if grain == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    if grain == "half_year":
        return f"{start.year}-H{1 if start.month < 7 else 2}"
    if grain == "year":
        return str(start.year)
    if grain == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    return start.isoformat()
