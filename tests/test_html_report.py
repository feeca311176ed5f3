"""The visual HTML report, rendered from a real pipeline run and opened in headless Chromium.

Chromium is Debian's `chromium` package (installed with apt-get when missing; the tests fail,
not skip, when that is impossible). It runs with a proxy that goes nowhere, so a page that
needed the network would not render its charts.
"""

from __future__ import annotations

import os
import re
import signal
import struct
import subprocess
import zlib
from dataclasses import dataclass
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import numpy as np
import pytest

from churn_pipeline.demo_data import DemoSpec, write_demo_snapshots
from churn_pipeline.html_report import render_html_report
from tests.conftest import Project

SPEC = DemoSpec(customers=300, days=120, start=date(2024, 12, 1), seed=5)
LAST_DAY = SPEC.start + timedelta(days=SPEC.days - 1)  # 2025-03-30: March is still running
LAST_COMPLETE_MONTH = date(2025, 2, 1)
PERIOD_CHARTS = ("chart-rates", "chart-bridge", "chart-reason-mix", "chart-reason-mrr")
LIFETIME_CHARTS = ("chart-cohorts", "chart-survival", "chart-forecast")
CHARTS = PERIOD_CHARTS + LIFETIME_CHARTS
HEADLINE_COLUMNS = (
    "period_start", "customers_start", "customers_end", "logo_churn_rate",
    "gross_logo_churn_rate", "mrr_start", "mrr_end", "gross_mrr_churn_rate",
    "net_mrr_churn_rate", "nrr",
)  # fmt: skip
LOCAL_MODEBAR_BUTTONS = {
    "Download plot as a PNG", "Zoom", "Pan", "Zoom in", "Zoom out", "Autoscale", "Reset axes",
}  # fmt: skip
WINDOW = (1400, 3000)
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-extensions", "--hide-scrollbars", "--mute-audio",
    "--proxy-server=127.0.0.1:9", "--virtual-time-budget=10000",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
)  # fmt: skip
CHROMIUM_TIMEOUT_SECONDS = 120


# --- Chromium -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium, installed with apt-get when missing (we run as root)."""
    if CHROMIUM.exists():
        return CHROMIUM
    try:
        result = subprocess.run(
            ["sh", "-c", "apt-get update && apt-get install -y --no-install-recommends chromium"],
            capture_output=True,
            text=True,
            timeout=1800,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        pytest.fail(f"cannot install Chromium with apt-get: {error}", pytrace=False)
    if result.returncode != 0 or not CHROMIUM.exists():
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        pytest.fail(
            f"the HTML report tests need headless Chromium at {CHROMIUM}; "
            f"`apt-get install -y chromium` failed (exit {result.returncode}):\n{tail}",
            pytrace=False,
        )
    return CHROMIUM


@dataclass(frozen=True)
class BrowserRun:
    stdout: str
    stderr: str

    def console_messages(self, page: Path) -> list[str]:
        """Console output of the page (log, warning, error and uncaught exceptions alike)."""
        return [
            line
            for line in self.stderr.splitlines()
            if ":CONSOLE" in line and (page.as_uri() in line or page.name in line)
        ]


def run_chromium(chromium: Path, profile: Path, page: Path, *flags: str) -> BrowserRun:
    command = [str(chromium), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *flags, page.as_uri()]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, so a hung browser can be ended whole
    )
    try:
        stdout, stderr = process.communicate(timeout=CHROMIUM_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"Chromium did not finish within {CHROMIUM_TIMEOUT_SECONDS}s: {command}")
    assert process.returncode == 0, f"Chromium exited with {process.returncode}:\n{stderr[-3000:]}"
    return BrowserRun(stdout, stderr)


def dump_dom(chromium: Path, profile: Path, page: Path) -> BrowserRun:
    return run_chromium(chromium, profile, page, "--dump-dom", "--enable-logging=stderr", "--v=0")


def screenshot(chromium: Path, profile: Path, page: Path, png: Path) -> None:
    run_chromium(chromium, profile, page, f"--screenshot={png}")
    assert png.is_file(), f"Chromium wrote no screenshot to {png}"


# --- PNG decoding (stdlib zlib/struct + numpy, which pandas already brings) -----------------


def png_pixels(path: Path) -> np.ndarray:
    """An 8-bit RGB or RGBA non-interlaced PNG as a (height, width, channels) uint8 array."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    position, compressed = 8, []
    width = height = channels = 0
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour_type in (2, 6) and interlace == 0, (depth, colour_type)
            channels = 3 if colour_type == 2 else 4
        elif kind == b"IDAT":
            compressed.append(body)
        elif kind == b"IEND":
            break
    stride = width * channels
    filtered = np.frombuffer(zlib.decompress(b"".join(compressed)), np.uint8)
    filtered = filtered.reshape(height, stride + 1)
    image = np.zeros((height, stride), np.uint8)
    previous = np.zeros(stride, np.uint8)
    for y in range(height):
        image[y] = unfilter(int(filtered[y, 0]), filtered[y, 1:], previous, channels)
        previous = image[y]
    return image.reshape(height, width, channels)


def unfilter(kind: int, row: np.ndarray, above: np.ndarray, bpp: int) -> np.ndarray:
    if kind == 0:
        return row
    if kind == 1:  # Sub: running sum of each channel along the row, modulo 256
        return np.cumsum(row.reshape(-1, bpp), axis=0, dtype=np.uint8).reshape(-1)
    if kind == 2:  # Up
        return row + above
    out = bytearray(len(row))
    raw, up = row.tobytes(), above.tobytes()
    for i in range(len(raw)):
        left = out[i - bpp] if i >= bpp else 0
        upper_left = up[i - bpp] if i >= bpp else 0
        if kind == 3:  # Average
            predictor = (left + up[i]) // 2
        else:  # Paeth
            estimate = left + up[i] - upper_left
            distances = (abs(estimate - left), abs(estimate - up[i]), abs(estimate - upper_left))
            predictor = (left, up[i], upper_left)[distances.index(min(distances))]
        out[i] = (raw[i] + predictor) & 0xFF
    return np.frombuffer(bytes(out), np.uint8)


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


# --- DOM helpers ----------------------------------------------------------------------------


class Cells(HTMLParser):
    """The text of every element with a data-metric attribute, and every src/href."""

    def __init__(self) -> None:
        super().__init__()
        self.metrics: dict[str, str] = {}
        self.links: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.links += [v for k, v in attrs if k in ("src", "href") and v]
        if values.get("data-metric"):
            self._open = values["data-metric"]
            self.metrics[self._open] = ""

    def handle_endtag(self, tag: str) -> None:
        self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self.metrics[self._open] += data


def parse(html: str) -> Cells:
    cells = Cells()
    cells.feed(html)
    return cells


def section(dom: str, element_id: str) -> str:
    """The markup from the element with this id up to the next panel."""
    start = dom.index(f'id="{element_id}"')
    end = dom.find('<section class="panel"', start)
    return dom[start : end if end != -1 else len(dom)]


def svg_texts(markup: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", text) for text in re.findall(r"<text\b[^>]*>(.*?)</text>", markup)
    ]


# --- the data and the rendered page ---------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, module_instance: dg.DagsterInstance) -> Project:
    project = Project(tmp_path_factory.mktemp("html_report"), module_instance)
    write_demo_snapshots(project.landing, SPEC)
    project.run(SPEC.start, LAST_DAY)
    return project


def open_reporting(project: Project) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(project.settings.warehouse_path), read_only=True)


def render(project: Project, currency: str = "USD", grain: str = "month") -> str:
    with open_reporting(project) as conn:
        return render_html_report(conn, currency, grain)


@dataclass(frozen=True)
class RenderedReport:
    page: Path
    html: str
    dom: str
    console: list[str]
    png: Path


@pytest.fixture(scope="module")
def rendered(
    demo: Project, chromium: Path, tmp_path_factory: pytest.TempPathFactory
) -> RenderedReport:
    folder = tmp_path_factory.mktemp("rendered")
    page = folder / "churn_report.html"
    html = render(demo)
    page.write_text(html, encoding="utf-8")
    browser = dump_dom(chromium, folder / "profile-dom", page)
    png = folder / "churn_report.png"
    screenshot(chromium, folder / "profile-png", page, png)
    return RenderedReport(page, html, browser.stdout, browser.console_messages(page), png)


def last_complete_month(project: Project) -> dict[str, Any]:
    rows = project.query_dicts(
        "select * from reporting.churn_by_period where grain = 'month' and is_complete "
        "order by period_start desc limit 1"
    )
    assert rows, "the demo data should have a complete month"
    return rows[0]


def expected_headline(row: dict[str, Any]) -> dict[str, str]:
    """Formatted independently of the code under test: USD has 2 decimals."""

    def text(column: str) -> str:
        value = row[column]
        if column == "period_start":
            return value.isoformat()
        if column.startswith("customers_"):
            return f"{value:,}"
        if column.startswith("mrr_"):
            return f"{value / 100:,.2f}"
        return "—" if value is None else f"{value * 100:.1f}%"

    return {column: text(column) for column in HEADLINE_COLUMNS}


# --- tests ----------------------------------------------------------------------------------


def test_headline_numbers_equal_the_last_complete_month(
    rendered: RenderedReport, demo: Project
) -> None:
    row = last_complete_month(demo)
    assert row["period_start"] == LAST_COMPLETE_MONTH
    expected = expected_headline(row)
    assert parse(rendered.dom).metrics == expected  # what the browser shows
    assert parse(rendered.html).metrics == expected  # what was written
    assert "Last complete month: 2025-02 (2025-02-01 to 2025-02-28)" in rendered.dom


def test_plotly_rendered_every_chart(rendered: RenderedReport) -> None:
    dom = rendered.dom
    assert 'class="empty"' not in dom
    plots = re.findall(r'<div id="([^"]+)" class="[^"]*\bjs-plotly-plot\b', dom)
    assert plots == list(CHARTS)
    for chart in CHARTS:
        markup = section(dom, chart)
        assert markup.count('class="main-svg"') >= 1, f"plotly drew no SVG for {chart}"
    assert len(re.findall(r'class="point"', section(dom, "chart-bridge"))) == 7  # waterfall steps
    assert len(re.findall(r'class="trace scatter', section(dom, "chart-rates"))) == 3


def test_charts_show_the_numbers_of_the_tables(rendered: RenderedReport, demo: Project) -> None:
    row = last_complete_month(demo)
    bridge = svg_texts(section(rendered.dom, "chart-bridge"))
    for column in ("mrr_start", "mrr_end"):
        assert f"{row[column] / 100:,.2f}" in bridge, (column, bridge)
    assert f"−{row['churned_mrr'] / 100:,.2f}" in bridge, bridge
    reasons = demo.query(
        "select churned_mrr from reporting.churn_reasons_by_period "
        "where grain = 'month' and period_start = $start",
        {"start": row["period_start"]},
    )
    labels = svg_texts(section(rendered.dom, "chart-reason-mrr"))
    bar_texts = [text for text in labels if re.fullmatch(r"[\d,]+\.\d\d", text)]  # not ticks
    assert sorted(bar_texts) == sorted(f"{mrr / 100:,.2f}" for (mrr,) in reasons)
    complete_months = demo.query(
        "select count(*) from reporting.churn_by_period where grain = 'month' and is_complete"
    )[0][0]
    mix = section(rendered.dom, "chart-reason-mix")
    assert len(set(re.findall(r">(20\d\d-\d\d)<", mix))) == complete_months


def test_page_is_self_contained_and_error_free(rendered: RenderedReport) -> None:
    assert not rendered.console, "the page wrote to the console:\n" + "\n".join(rendered.console)
    external = [link for link in parse(rendered.html).links if not link.startswith("#")]
    assert external == [], f"the page links to outside resources: {external}"
    assert not re.search(
        r"<script[^>]+src=|<link\b|@import|url\(", rendered.html.split("<body>")[1]
    )
    # plotly.js 4 adds a "Share chart..." button that uploads the figure to Plotly Cloud
    buttons = set(re.findall(r'data-title="([^"]*)"', rendered.dom))
    assert buttons and buttons <= LOCAL_MODEBAR_BUTTONS, buttons - LOCAL_MODEBAR_BUTTONS


def test_screenshot_shows_the_report(rendered: RenderedReport) -> None:
    image = png_pixels(rendered.png)[..., :3]
    assert image.shape[:2] == (WINDOW[1], WINDOW[0])
    top = image[:1300]
    not_white = np.any(top < 245, axis=2)
    assert not_white.mean() > 0.03, f"only {not_white.mean():.1%} of the page is drawn"
    assert len(np.unique(top.reshape(-1, 3), axis=0)) > 200
    # the waterfall's green, red and grey bars and the rates chart's blue line are on screen
    for colour in ("#2E7D32", "#C62828", "#52606D", "#0072B2"):
        hits = np.all(top == np.array(hex_rgb(colour), np.uint8), axis=2).sum()
        assert hits > 50, f"{colour} appears on {hits} pixels only"


def test_console_capture_sees_page_errors(chromium: Path, tmp_path: Path) -> None:
    """The capture used above does see errors: a page that throws is caught."""
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>missingFunction();</script></body></html>")
    messages = dump_dom(chromium, tmp_path / "profile", page).console_messages(page)
    assert any("Uncaught ReferenceError" in m for m in messages), messages


def test_no_complete_period_renders_messages_instead_of_charts(demo: Project) -> None:
    html = render(demo, grain="year")  # 2025 is still running
    assert "No complete year yet" in html
    assert 'data-metric="' not in html
    assert not any(f'id="{chart}"' in html for chart in PERIOD_CHARTS)
    assert html.count('class="empty"') == 5  # headline and four charts
    # cohorts, survival and the forecast exist for months and quarters: a year report shows months
    assert all(f'id="{chart}"' in html for chart in LIFETIME_CHARTS)
    assert "Cohort retention by month" in html


def test_empty_reason_tables_render_messages(demo: Project) -> None:
    with duckdb.connect() as conn:
        conn.execute(
            "attach $path as warehouse (read_only)", {"path": str(demo.settings.warehouse_path)}
        )
        conn.execute("create schema reporting")
        conn.execute(
            "create table reporting.churn_by_period as select * from warehouse.reporting.churn_by_period"
        )
        conn.execute(
            "create table reporting.churn_reasons_by_period as "
            "select * from warehouse.reporting.churn_reasons_by_period limit 0"
        )
        html = render_html_report(conn, "USD", "month")
    assert 'id="chart-rates"' in html and 'id="chart-bridge"' in html
    assert 'id="chart-reason-mix"' not in html and 'id="chart-reason-mrr"' not in html
    # an older published copy without the lifetime tables gets messages, not an error
    assert "reporting.cohort_retention is not in these outputs yet" in html
    assert "reporting.customer_survival is not in these outputs yet" in html
    assert "The forecast tables are not in these outputs yet" in html
    assert "No customer churned in any complete month." in html
    assert "No customer churned in 2025-02." in html


def test_money_follows_the_currency_exponent(demo: Project) -> None:
    row = last_complete_month(demo)
    metrics = parse(render(demo, currency="jpy")).metrics
    assert metrics["mrr_start"] == f"{row['mrr_start']:,}"  # yen have no minor unit
    assert metrics["mrr_end"] == f"{row['mrr_end']:,}"


def test_unknown_grain_is_refused(demo: Project) -> None:
    with pytest.raises(ValueError, match="grain must be one of"):
        render(demo, grain="fortnight")


def test_lifetime_panels_show_the_numbers_of_the_tables(
    rendered: RenderedReport, demo: Project
) -> None:
    cells = demo.query(
        "select logo_retention, is_complete from reporting.cohort_retention "
        "where cohort_grain = 'month'"
    )
    assert cells
    shown = [t for t in svg_texts(section(rendered.dom, "chart-cohorts")) if t.endswith(("%", "*"))]
    assert sorted(shown) == sorted(
        f"{logo:.0%}{'' if complete else '*'}" for logo, complete in cells
    )
    survival = section(rendered.dom, "chart-survival")
    assert len(re.findall(r'class="trace scatter', survival)) == 3  # curve and interval band
    forecast = demo.query_dicts("select * from reporting.churn_forecast where grain = 'month'")[0]
    assert forecast["period_start"] == date(2025, 4, 1)
    note = re.search(r'id="forecast-next">([^<]*)<', rendered.dom)
    assert note is not None
    assert (
        f"Next month (2025-04-01): {forecast['expected_churned_customers']:.0f} customers "
        f"({forecast['churned_customers_low']:.0f}–{forecast['churned_customers_high']:.0f}) "
        f"of {forecast['customers_at_origin']:,} active on {LAST_DAY}"
    ) in note.group(1)
    backtest = demo.query(
        "select count(*) from reporting.churn_forecast_backtest where grain = 'month'"
    )[0][0]
    points = section(rendered.dom, "chart-forecast")
    assert backtest >= 1
    assert len(set(re.findall(r">(20\d\d-\d\d)<", points))) == backtest + 1  # and next month
