"""`churn-pipeline bench`: the pipeline against the DuckDB floor and a pandas peer (issue #9).

Generates (or reuses, keyed by parameters) demo snapshots as daily Parquet, then measures
each step as its own child process, with wall time and peak RSS:

- `backfill`: `churn-pipeline backfill` over the whole history (every asset, all tables);
- `nightly` on the long history and on a 30-day one: after a warm-up night, each following
  day processed by `churn-pipeline run --start D --end D` (what the nightly schedule runs);
- `floor`: `sql/bench/floor_monthly_churn.sql`, one DuckDB statement on the Parquet files;
- `pandas`: the same numbers in pandas, killed when its RSS passes the memory guard.

Each command is started by a small process of its own (`bench_child`), whose `os.wait4` gives
its peak RSS (the kernel's high-water mark of that process, children included), so nothing is
sampled and nothing is missed, and none of the bench's own memory is counted; the pandas guard
polls `/proc/<pid>/status` because it must act before the child ends. The monthly
customers_start, churned_from_start and mrr_start of `reporting.churn_by_period` must
equal the floor's, and the floor's the pandas peer's; any difference fails the bench.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import duckdb
from dotenv import dotenv_values

from churn_pipeline.demo_data import DemoSpec, missing_days, write_demo_snapshots
from churn_pipeline.settings import PROJECT_ROOT

DEFAULT_DATA_DIR = PROJECT_ROOT / "data" / "bench"
NIGHTS = 4  # generated after the history: one warm-up night, then three measured nights
SHORT_HISTORY_DAYS = 30
DEFAULT_PANDAS_GUARD_GB = 16.0
COMPARED_COLUMNS = ("customers_start", "churned_from_start", "mrr_start")
TARGETS = {  # name: (figure, limit); a figure at or under its limit meets the target
    "backfill_over_floor": ("backfill_seconds / floor_seconds", 8.0),
    "backfill_peak_rss_gb": ("peak RSS of the backfill, GiB", 4.0),
    "nightly_seconds_long_history": ("nightly run, s", 10.0),
    "nightly_long_over_short": ("nightly long / short history", 1.5),
    "backfill_over_pandas": ("backfill_seconds / pandas_seconds", 1.0),
    "backfill_rss_over_pandas_rss": ("backfill RSS / pandas RSS", 0.25),
}


class BenchError(RuntimeError):
    """A measured step failed or the results disagree; the message says which."""


@dataclass
class Measurement:
    seconds: float
    peak_rss_mb: float
    returncode: int
    killed_by_guard: bool = False
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass
class BenchDataset:
    landing: Path
    history: list[date]  # snapshot dates of the history (files present)
    nights: list[date]  # the dates after it, one nightly run each
    history_end: date

    def history_files(self) -> list[str]:
        return [str(self.landing / f"{d.isoformat()}.parquet") for d in self.history]


@dataclass
class BenchResult:
    parameters: dict[str, Any]
    machine: dict[str, Any]
    versions: dict[str, str]
    snapshot_rows: int = 0
    snapshot_files: int = 0
    generate_seconds: float | None = None
    backfill_seconds: float = 0.0
    backfill_runs: list[float] = field(default_factory=list)
    # where a backfill's time goes: each Dagster step's median seconds over the runs, and
    # "outside steps" (process and Dagster start-up, run creation, between steps)
    backfill_steps: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float = 0.0
    nightly_seconds_long_history: float = 0.0
    nightly_runs_long_history: list[float] = field(default_factory=list)
    nightly_peak_rss_mb_long_history: float = 0.0
    nightly_seconds_short_history: float = 0.0
    nightly_runs_short_history: list[float] = field(default_factory=list)
    nightly_peak_rss_mb_short_history: float = 0.0
    floor_seconds: float = 0.0
    floor_runs: list[float] = field(default_factory=list)
    floor_peak_rss_mb: float = 0.0
    pandas_status: str = "not run"
    pandas_seconds: float | None = None
    pandas_runs: list[float] = field(default_factory=list)
    pandas_peak_rss_mb: float | None = None
    pandas_memory_guard_mb: float = 0.0
    load_average: dict[str, list[float]] = field(default_factory=dict)
    ratios: dict[str, float | None] = field(default_factory=dict)
    # each round's backfill over that round's floor and pandas runs (same minutes)
    round_ratios: dict[str, list[float | None]] = field(default_factory=dict)
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)


def dataset_dir(data_dir: Path, customers: int, days: int, seed: int) -> Path:
    return data_dir / f"c{customers}_d{days}_s{seed}"


def prepare_dataset(
    data_dir: Path, customers: int, days: int, seed: int
) -> tuple[BenchDataset, float | None]:
    """The history of `days` days plus NIGHTS more, generated once per parameter set.

    Returns the dataset and the generator's wall time (None when reused).
    """
    spec = DemoSpec(customers=customers, days=days + NIGHTS, seed=seed)
    folder = dataset_dir(data_dir, customers, days, seed)
    landing = folder / "landing"
    marker = folder / "complete.json"
    wanted = {
        "customers": customers,
        "days": days + NIGHTS,
        "seed": seed,
        "start": spec.start.isoformat(),
    }
    seconds = None
    if not (marker.is_file() and json.loads(marker.read_text(encoding="utf-8")) == wanted):
        shutil.rmtree(folder, ignore_errors=True)
        began = time.perf_counter()
        write_demo_snapshots(landing, spec, "parquet")
        seconds = time.perf_counter() - began
        marker.write_text(json.dumps(wanted), encoding="utf-8")
    skipped = missing_days(spec)
    present = [spec.start + timedelta(days=d) for d in range(spec.days) if d not in skipped]
    history_end = spec.start + timedelta(days=days - 1)
    return (
        BenchDataset(
            landing=landing,
            history=[d for d in present if d <= history_end],
            nights=[d for d in present if d > history_end],
            history_end=history_end,
        ),
        seconds,
    )


def measure(
    command: Sequence[str],
    env: dict[str, str] | None = None,
    rss_guard_mb: float | None = None,
    log: Path | None = None,
) -> Measurement:
    """Run one command through `bench_child`; its wall time and peak RSS.

    With `rss_guard_mb`, the command is killed once its resident memory passes the guard.
    """
    load = os.getloadavg()
    output = log.open("wb") if log else subprocess.DEVNULL
    with tempfile.TemporaryDirectory(prefix="churn-bench-") as scratch:
        result_path = Path(scratch) / "measured.json"
        launcher = [
            sys.executable, "-m", "churn_pipeline.bench_child",
            str(result_path), str(rss_guard_mb or 0), "--", *command,
        ]  # fmt: skip
        try:
            process = subprocess.Popen(
                launcher, env=env, stdout=output, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT
            )
            try:
                returncode = process.wait()
            except BaseException:  # the bench is stopped: the launcher stops the command
                process.terminate()
                process.wait()
                raise
        finally:
            if log:
                output.close()  # type: ignore[union-attr]
        if not result_path.is_file():
            raise BenchError(f"the measuring process failed (exit {returncode}) for {command}")
        measured = json.loads(result_path.read_text(encoding="utf-8"))
    return Measurement(
        seconds=measured["seconds"],
        peak_rss_mb=measured["peak_rss_mb"],
        returncode=measured["returncode"],
        killed_by_guard=measured["killed_by_guard"],
        load_before=load,
    )


def _cli() -> list[str]:
    return [str(Path(sys.executable).with_name("churn-pipeline"))]


PASSED_THROUGH_SETTINGS = ("CHURN_DUCKDB_MEMORY_LIMIT", "CHURN_DUCKDB_THREADS")


def _pipeline_env(
    dataset: BenchDataset, work: Path, dotenv_file: Path = PROJECT_ROOT / ".env"
) -> dict[str, str]:
    """The runs' environment: the bench's folders and every other setting at its default.

    A setting from the project's `.env` (a time zone, a status mapping, grace days) would change
    the pipeline's numbers but not the floor's; the runs would read it, because the file fills
    in whatever the environment leaves unset. An empty value means the default, so each such
    key is set to empty here. Only DuckDB's memory limit and threads pass through.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CHURN_") or key in PASSED_THROUGH_SETTINGS
    }
    for key in dotenv_values(dotenv_file):
        if key.startswith("CHURN_") and key not in PASSED_THROUGH_SETTINGS:
            env[key] = ""
    env.update(
        {
            "CHURN_LANDING_DIR": str(dataset.landing),
            "CHURN_WAREHOUSE": str(work / "warehouse.duckdb"),
            "CHURN_PUBLISHED_DIR": str(work / "published"),
            "DAGSTER_HOME": str(work / "dagster_home"),
            "CHURN_START_DATE": dataset.history[0].isoformat(),
        }
    )
    return env


def _checked(step: str, result: Measurement, log: Path) -> Measurement:
    if result.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
        raise BenchError(
            f"{step} failed (exit {result.returncode}); last lines of {log}: " + " | ".join(tail)
        )
    return result


def run_backfill(dataset: BenchDataset, work: Path, logs: Path, label: str) -> Measurement:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log = logs / f"{label}.log"
    command = [
        *_cli(), "backfill",
        "--start", dataset.history[0].isoformat(),
        "--end", dataset.history_end.isoformat(),
    ]  # fmt: skip
    return _checked(label, measure(command, _pipeline_env(dataset, work), log=log), log)


OUTSIDE_STEPS = "outside steps"


def backfill_step_seconds(work: Path, total_seconds: float) -> dict[str, float]:
    """Each step's wall time in the (only) run of the Dagster home of `work`, from Dagster's
    own step statistics, and the rest of `total_seconds` as OUTSIDE_STEPS."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(work / "dagster_home")) as instance:
        records = instance.get_run_records(limit=2)
        if len(records) != 1:
            raise BenchError(f"expected the backfill to be the only run in {work}")
        stats = instance.get_run_step_stats(records[0].dagster_run.run_id)
    steps = {
        stat.step_key: round(stat.end_time - stat.start_time, 3)
        for stat in sorted(stats, key=lambda stat: stat.start_time or 0.0)
        if stat.start_time is not None and stat.end_time is not None
    }
    steps[OUTSIDE_STEPS] = round(total_seconds - sum(steps.values()), 3)
    return steps


def run_nights(
    dataset: BenchDataset, work: Path, logs: Path, label: str, nights: int
) -> list[Measurement]:
    """One warm-up night, then `nights` measured ones (after the backfill in `work`)."""
    results = []
    for index, night in enumerate(dataset.nights[: nights + 1]):
        log = logs / f"{label}_{night.isoformat()}.log"
        command = [*_cli(), "run", "--start", night.isoformat(), "--end", night.isoformat()]
        result = _checked(label, measure(command, _pipeline_env(dataset, work), log=log), log)
        if index > 0:
            results.append(result)
    if not results:
        raise BenchError(f"{label}: no night after the history to measure")
    return results


def _write_file_list(files: list[str], path: Path) -> Path:
    path.write_text("\n".join(files) + "\n", encoding="utf-8")
    return path


def run_floor(files_list: Path, out: Path, logs: Path, label: str) -> Measurement:
    log = logs / f"{label}.log"
    command = [sys.executable, "-m", "churn_pipeline.bench_floor", str(files_list), str(out)]
    return _checked(label, measure(command, log=log), log)


def run_pandas(files_list: Path, out: Path, logs: Path, label: str, guard_mb: float) -> Measurement:
    log = logs / f"{label}.log"
    command = [sys.executable, "-m", "churn_pipeline.bench_pandas", str(files_list), str(out)]
    result = measure(command, rss_guard_mb=guard_mb, log=log)
    if result.returncode != 0 and not result.killed_by_guard:
        text = log.read_text(encoding="utf-8", errors="replace")
        if "MemoryError" not in text:
            _checked(label, result, log)
    return result


def pipeline_months(work: Path) -> list[dict[str, Any]]:
    with duckdb.connect(str(work / "published" / "reporting.duckdb"), read_only=True) as conn:
        cursor = conn.execute(
            "select period_start, customers_start, churned_from_start, mrr_start "
            "from churn_by_period where grain = 'month' order by period_start"
        )
        names = [d[0] for d in cursor.description]
        return [
            {**dict(zip(names, row, strict=True)), "period_start": row[0].isoformat()}
            for row in cursor.fetchall()
        ]


def compare_months(
    left: list[dict[str, Any]], right: list[dict[str, Any]], comparable: set[str]
) -> dict[str, Any]:
    """Equal COMPARED_COLUMNS on every comparable month both sides publish."""
    by_month = {row["period_start"]: row for row in right}
    differences, compared = [], 0
    for row in left:
        other = by_month.get(row["period_start"])
        if row["period_start"] not in comparable:
            continue
        if other is None:
            differences.append({"period_start": row["period_start"], "missing": True})
            continue
        compared += 1
        for column in COMPARED_COLUMNS:
            if int(row[column]) != int(other[column]):
                differences.append(
                    {
                        "period_start": row["period_start"],
                        "column": column,
                        "left": row[column],
                        "right": other[column],
                    }
                )
    return {
        "passed": not differences and compared > 0,
        "months_compared": compared,
        "differences": differences[:20],
    }


def machine_facts() -> dict[str, Any]:
    memory_kb = 0
    cpu_model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 1024**2, 1),
        "cpu_model": cpu_model,
        "platform": platform.platform(),
    }


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in ("duckdb", "dagster", "pandas", "pyarrow", "churn-pipeline"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def _ratio(top: float | None, bottom: float | None) -> float | None:
    return round(top / bottom, 3) if top is not None and bottom else None


def run_bench(
    customers: int,
    days: int,
    seed: int = 42,
    repeat: int = 3,
    data_dir: Path = DEFAULT_DATA_DIR,
    pandas_guard_gb: float = DEFAULT_PANDAS_GUARD_GB,
    nights: int = NIGHTS - 1,
    progress: Any = None,
) -> BenchResult:
    say = progress or (lambda message: None)
    if days <= SHORT_HISTORY_DAYS:
        raise BenchError(f"--days must be more than the short history ({SHORT_HISTORY_DAYS})")
    if not 1 <= nights < NIGHTS:
        raise BenchError(f"--nights must be between 1 and {NIGHTS - 1}")
    result = BenchResult(
        parameters={
            "customers": customers,
            "days": days,
            "seed": seed,
            "repeat": repeat,
            "nights": nights,
        },
        machine=machine_facts(),
        versions=versions(),
        pandas_memory_guard_mb=pandas_guard_gb * 1024,
    )
    say(f"demo data: {customers:,} customers × {days} days (+{NIGHTS} nights), seed {seed}")
    dataset, result.generate_seconds = prepare_dataset(data_dir, customers, days, seed)
    short, _ = prepare_dataset(data_dir, customers, SHORT_HISTORY_DAYS, seed)
    runs = data_dir / "runs"
    logs = runs / "logs"
    shutil.rmtree(runs, ignore_errors=True)
    logs.mkdir(parents=True)
    files_list = _write_file_list(dataset.history_files(), runs / "history_files.txt")
    with duckdb.connect() as conn:
        row = conn.execute(
            "select count(*) from read_parquet($files)", {"files": dataset.history_files()}
        ).fetchone()
    result.snapshot_rows, result.snapshot_files = int(row[0]) if row else 0, len(dataset.history)

    # One round measures the floor, the pandas peer and the backfill one after the other, so
    # the ratios compare runs of the same minutes: this machine's speed drifts by a third
    # between hours, which skewed them when each step's runs came in a block.
    floor_runs: list[Measurement] = []
    pandas_runs: list[Measurement] = []
    backfills: list[Measurement] = []
    step_runs: list[dict[str, float]] = []
    work = runs / "long"
    for index in range(repeat):
        round_label = f"round {index + 1}/{repeat}"
        say(f"{round_label}: floor query")
        floor_runs.append(run_floor(files_list, runs / "floor.json", logs, f"floor_{index + 1}"))
        if all(m.returncode == 0 for m in pandas_runs):  # it did not fit: once is enough
            say(f"{round_label}: pandas peer (memory guard {pandas_guard_gb:g} GiB)")
            label, guard_mb = f"pandas_{index + 1}", pandas_guard_gb * 1024
            pandas_runs.append(run_pandas(files_list, runs / "pandas.json", logs, label, guard_mb))
        say(f"{round_label}: backfill of {len(dataset.history)} snapshot files")
        backfills.append(run_backfill(dataset, work, logs, f"backfill_{index + 1}"))
        step_runs.append(backfill_step_seconds(work, backfills[-1].seconds))

    floor_rows = json.loads((runs / "floor.json").read_text(encoding="utf-8"))["rows"]
    result.floor_runs = [round(m.seconds, 3) for m in floor_runs]
    result.floor_seconds = _median(result.floor_runs)
    result.floor_peak_rss_mb = round(max(m.peak_rss_mb for m in floor_runs), 1)
    comparable = {row["period_start"] for row in floor_rows if row["boundaries_are_snapshots"]}

    if all(m.returncode == 0 for m in pandas_runs):
        result.pandas_status = "ok"
        result.pandas_runs = [round(m.seconds, 3) for m in pandas_runs]
        result.pandas_seconds = _median(result.pandas_runs)
        pandas_rows = json.loads((runs / "pandas.json").read_text(encoding="utf-8"))["rows"]
        result.checks["floor_equals_pandas"] = compare_months(
            floor_rows, pandas_rows, {r["period_start"] for r in floor_rows}
        )
    else:
        result.pandas_status = "did not fit"
    result.pandas_peak_rss_mb = round(max(m.peak_rss_mb for m in pandas_runs), 1)

    result.backfill_runs = [round(m.seconds, 3) for m in backfills]
    result.backfill_seconds = _median(result.backfill_runs)
    result.peak_rss_mb = round(max(m.peak_rss_mb for m in backfills), 1)
    result.backfill_steps = {
        step: _median([steps.get(step, 0.0) for steps in step_runs]) for step in step_runs[0]
    }
    result.round_ratios = {
        "backfill_over_floor": [
            _ratio(b, f) for b, f in zip(result.backfill_runs, result.floor_runs, strict=True)
        ],
        "backfill_over_pandas": [
            _ratio(b, p) for b, p in zip(result.backfill_runs, result.pandas_runs, strict=False)
        ],
    }
    result.checks["pipeline_equals_floor"] = compare_months(
        floor_rows, pipeline_months(work), comparable
    )

    say(f"nightly runs after the {days}-day history")
    measured = run_nights(dataset, work, logs, "nightly_long", nights)
    result.nightly_runs_long_history = [round(m.seconds, 3) for m in measured]
    result.nightly_seconds_long_history = _median(result.nightly_runs_long_history)
    result.nightly_peak_rss_mb_long_history = round(max(m.peak_rss_mb for m in measured), 1)
    result.load_average["nightly_long"] = list(measured[0].load_before)

    say(f"nightly runs after a {SHORT_HISTORY_DAYS}-day history")
    short_work = runs / "short"
    run_backfill(short, short_work, logs, "backfill_short")
    measured = run_nights(short, short_work, logs, "nightly_short", nights)
    result.nightly_runs_short_history = [round(m.seconds, 3) for m in measured]
    result.nightly_seconds_short_history = _median(result.nightly_runs_short_history)
    result.nightly_peak_rss_mb_short_history = round(max(m.peak_rss_mb for m in measured), 1)
    result.load_average["nightly_short"] = list(measured[0].load_before)

    for name, runs_of_step in (
        ("floor", floor_runs),
        ("pandas", pandas_runs),
        ("backfill", backfills),
    ):
        result.load_average[name] = list(runs_of_step[0].load_before)
    _score(result)
    return result


def _score(result: BenchResult) -> None:
    pandas_seconds = result.pandas_seconds
    result.ratios = {
        "backfill_over_floor": _ratio(result.backfill_seconds, result.floor_seconds),
        "nightly_long_over_short": _ratio(
            result.nightly_seconds_long_history, result.nightly_seconds_short_history
        ),
        "backfill_over_pandas": _ratio(result.backfill_seconds, pandas_seconds),
        "backfill_rss_over_pandas_rss": _ratio(result.peak_rss_mb, result.pandas_peak_rss_mb),
    }
    values: dict[str, float | None] = {
        **result.ratios,
        "backfill_peak_rss_gb": round(result.peak_rss_mb / 1024, 3),
        "nightly_seconds_long_history": result.nightly_seconds_long_history,
    }
    did_not_fit = result.pandas_status == "did not fit"
    for name, (meaning, limit) in TARGETS.items():
        value = values[name]
        if name == "backfill_over_pandas" and did_not_fit:
            met: bool | None = True  # pandas could not finish at all under its guard
        elif name == "backfill_rss_over_pandas_rss" and did_not_fit:
            met = value is not None and value <= limit  # its RSS reached the guard, at least
        else:
            met = None if value is None else value <= limit
        result.targets[name] = {"meaning": meaning, "value": value, "limit": limit, "met": met}


def failed_checks(result: BenchResult) -> list[str]:
    return [
        f"{name}: {json.dumps(check['differences'][:3])} ({check['months_compared']} months compared)"
        for name, check in result.checks.items()
        if not check["passed"]
    ]


def write_json(result: BenchResult, path: Path) -> None:
    payload = {"date": datetime.now(UTC).isoformat(timespec="seconds"), **asdict(result)}
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
        json.dump(payload, handle, indent=2, default=str)
    Path(handle.name).replace(path)


def table_rows(result: BenchResult) -> list[tuple[str, str, str]]:
    """(figure, seconds, peak RSS) rows for the printed table."""

    def mb(value: float | None) -> str:
        return "–" if value is None else f"{value:,.0f} MB"

    pandas = (
        f"{result.pandas_seconds:.2f}"
        if result.pandas_seconds is not None
        else result.pandas_status
    )
    return [
        ("snapshot rows", f"{result.snapshot_rows:,} in {result.snapshot_files} files", ""),
        ("floor (one DuckDB query)", f"{result.floor_seconds:.2f}", mb(result.floor_peak_rss_mb)),
        ("pandas peer", pandas, mb(result.pandas_peak_rss_mb)),
        ("backfill (whole pipeline)", f"{result.backfill_seconds:.2f}", mb(result.peak_rss_mb)),
        (
            "nightly, long history",
            f"{result.nightly_seconds_long_history:.2f}",
            mb(result.nightly_peak_rss_mb_long_history),
        ),
        (
            "nightly, 30-day history",
            f"{result.nightly_seconds_short_history:.2f}",
            mb(result.nightly_peak_rss_mb_short_history),
        ),
    ]
