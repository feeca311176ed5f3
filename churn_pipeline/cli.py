"""The `churn-pipeline` command line (INTERFACE.md)."""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import sys
import threading
import uuid
import warnings
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from churn_pipeline.settings import Settings, SettingsError

app = typer.Typer(
    help="Subscription churn analytics over daily snapshots, as Dagster assets on DuckDB.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# wide enough for the headline table when output goes to a file or a pipe
console = Console(width=None if sys.stdout.isatty() else 160)
errors = Console(stderr=True)
warnings.filterwarnings("ignore", category=Warning, module=r"dagster(\..*)?$")
warnings.filterwarnings("ignore", message=r".*(is currently in beta|is superseded|preview).*")


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit status 1."""


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


class DemoFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"
    hive = "hive"


class Grain(StrEnum):
    day = "day"
    week = "week"
    month = "month"
    quarter = "quarter"
    half_year = "half_year"
    year = "year"


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as error:
        raise UserError(str(error)) from None


def _parse_date(value: str | None, flag: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"{flag} {value!r} is not a date in YYYY-MM-DD form") from None


@app.command("demo-data")
def demo_data(
    customers: Annotated[int, typer.Option(min=1, help="Number of customers.")] = 2000,
    days: Annotated[int, typer.Option(min=2, help="Number of daily snapshots.")] = 456,
    start: Annotated[str, typer.Option(help="First snapshot date.")] = "2024-01-01",
    seed: Annotated[
        int, typer.Option(help="Random seed; the same seed gives the same files.")
    ] = 42,
    out: Annotated[
        Path | None, typer.Option(help="Folder to write (default: CHURN_LANDING_DIR).")
    ] = None,
    file_format: Annotated[
        DemoFormat, typer.Option("--format", help="csv, parquet, or hive folders.")
    ] = DemoFormat.csv,
) -> None:
    """Write realistic demo snapshots, deterministic for a seed."""
    from churn_pipeline.demo_data import DemoSpec, write_demo_snapshots

    spec = DemoSpec(
        customers=customers,
        days=days,
        start=_parse_date(start, "--start") or date(2024, 1, 1),
        seed=seed,
    )
    target = out or _settings().landing_dir
    with _progress() as progress:
        task = progress.add_task(
            f"writing {days} days for {customers:,} customers to {target}", total=days
        )
        paths = write_demo_snapshots(
            target,
            spec,
            file_format.value,
            on_day=lambda d, _: progress.update(task, completed=d + 1),
        )
    console.print(
        f"wrote {len(paths)} snapshot files to {target} ({days - len(paths)} days left out as gaps)"
    )


def _progress() -> Progress:
    # the real stderr, even while Dagster's own console logs are being swallowed
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(file=sys.__stderr__),
        transient=False,
    )


def _ensure_landing(settings: Settings) -> None:
    landing = settings.landing_dir
    has_files = landing.is_dir() and any(p for p in landing.iterdir() if not p.name.startswith("."))
    if has_files:
        return
    if not settings.landing_is_default:
        raise UserError(
            f"the landing folder {landing} is empty or missing: put snapshot files there, or unset CHURN_LANDING_DIR for the demo"
        )
    errors.print(f"[bold]{landing} is empty: generating demo snapshots first[/bold]")
    demo_data(out=landing)


def _execute(settings: Settings, start: date | None, end: date | None, label: str) -> None:
    from churn_pipeline.landing import LandingError
    from churn_pipeline.runs import (
        InstanceError,
        RunFailedError,
        open_instance,
        run_pipeline,
        snapshot_window,
    )

    try:
        first, last = snapshot_window(settings, start, end)
        instance = open_instance(settings)
    except (LandingError, FileNotFoundError, ValueError, InstanceError) as error:
        raise UserError(str(error)) from None
    run_id = str(uuid.uuid4())
    outcome: dict[str, BaseException | None] = {"error": None}

    def work() -> None:
        try:
            run_pipeline(settings, instance, first, last, run_id=run_id, quiet=True)
        except BaseException as error:  # reported by the main thread
            outcome["error"] = error

    worker = threading.Thread(target=work, daemon=True)
    # Dagster logs every failed step with a stack trace; the run keeps them (make dev) and
    # the user gets one line from us instead.
    with contextlib.redirect_stderr(io.StringIO()), _progress() as progress:
        task = progress.add_task(f"{label} {first}…{last} (Dagster run {run_id[:8]})", total=None)
        worker.start()
        # each poll reads the run's event log and competes with the run for the GIL: once a
        # second, and the loop ends as soon as the run does
        worker.join(timeout=1.0)
        while worker.is_alive():
            done, current = _step_progress(instance, run_id)
            progress.update(
                task,
                completed=done,
                description=f"{label} {first}…{last} (run {run_id[:8]}) {current}",
            )
            worker.join(timeout=1.0)
        done, _ = _step_progress(instance, run_id)
        progress.update(
            task,
            completed=done,
            total=done,
            description=f"{label} {first}…{last} (run {run_id[:8]})",
        )
    error = outcome["error"]
    if isinstance(error, RunFailedError | LandingError | ValueError):
        ran = instance.get_run_by_id(run_id) is not None
        raise UserError(
            f"{error} (see run {run_id} in `make dev`)" if ran else str(error)
        ) from None
    if error is not None:
        raise error
    console.print(f"run {run_id} succeeded; Dagster home {settings.dagster_home}")


def _step_progress(instance: object, run_id: str) -> tuple[int, str]:
    """(steps finished, the step running now) of a run, from the instance's event log."""
    import dagster as dg

    try:
        records = instance.all_logs(
            run_id, of_type={dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS}
        )  # type: ignore[attr-defined]
    except Exception:  # the run may not exist yet
        return 0, ""
    started = [
        r.step_key
        for r in records
        if r.dagster_event and r.dagster_event.event_type == dg.DagsterEventType.STEP_START
    ]
    finished = {
        r.step_key
        for r in records
        if r.dagster_event and r.dagster_event.event_type == dg.DagsterEventType.STEP_SUCCESS
    }
    running = [s for s in started if s not in finished]
    return len(finished), (running[-1] if running else "")


def _print_headline(settings: Settings, grain: str = "month") -> None:
    from churn_pipeline.query import open_published, publication_age
    from churn_pipeline.report import print_report

    conn = open_published(settings)
    try:
        print_report(conn, grain, settings.currency, console)
    finally:
        conn.close()
    console.print(
        f'[dim]{publication_age(settings)}; query with: churn-pipeline query "select ..."[/dim]'
    )


@app.command()
def run(
    start: Annotated[
        str | None, typer.Option(help="First snapshot date (default: the first file).")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Last snapshot date, inclusive (default: the last file).")
    ] = None,
) -> None:
    """Materialize every asset for the snapshot dates in range, then print the monthly table."""
    settings = _settings()
    _ensure_landing(settings)
    _execute(settings, _parse_date(start, "--start"), _parse_date(end, "--end"), "run")
    _print_headline(settings)


@app.command()
def backfill(
    start: Annotated[str, typer.Option(help="First snapshot date.")],
    end: Annotated[str, typer.Option(help="Last snapshot date, inclusive.")],
    queue: Annotated[
        bool,
        typer.Option(
            "--queue",
            help="Submit the range to the Dagster daemon as an asset backfill instead of running "
            "it here; in lake mode it is split into runs of CHURN_BACKFILL_RUN_DAYS dates.",
        ),
    ] = False,
) -> None:
    """Materialize a historical range as one ranged Dagster run (or, with --queue, a backfill
    the daemon runs)."""
    settings = _settings()
    first, last = _parse_date(start, "--start"), _parse_date(end, "--end")
    if queue:
        _submit_backfill(settings, first, last)
        return
    _execute(settings, first, last, "backfill")
    _print_headline(settings)


def _submit_backfill(settings: Settings, start: date | None, end: date | None) -> None:
    from churn_pipeline.runs import InstanceError, open_instance, snapshot_window, submit_backfill

    try:
        first, last = snapshot_window(settings, start, end)
        instance = open_instance(settings)
        backfill_id = submit_backfill(settings, instance, first, last)
    except (FileNotFoundError, ValueError, InstanceError) as error:
        raise UserError(str(error)) from None
    split = (
        f"runs of {settings.backfill_run_days} dates"
        if settings.lake_mode
        else "one ranged run (warehouse mode)"
    )
    console.print(
        f"backfill {backfill_id} queued: {first}…{last} in {split}, then one run for the tables. "
        "The Dagster daemon (`dagster-daemon run -w workspace.yaml`) starts its runs; "
        "follow it in the UI's Backfills tab."
    )


@app.command()
def query(
    sql: Annotated[
        str, typer.Argument(help="One read-only SQL statement over the published reporting tables.")
    ],
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="table, csv or json.")
    ] = OutputFormat.table,
) -> None:
    """Query the published outputs read-only; works while a run is writing the warehouse."""
    from churn_pipeline.query import QueryError, publication_age, run_query

    settings = _settings()
    try:
        frame = run_query(settings, sql)
    except QueryError as error:
        raise UserError(str(error)) from None
    errors.print(f"[dim]{publication_age(settings)}[/dim]", highlight=False)
    if output_format is OutputFormat.csv:
        sys.stdout.write(frame.to_csv(index=False))
    elif output_format is OutputFormat.json:
        sys.stdout.write(frame.to_json(orient="records", date_format="iso", indent=None) + "\n")
    else:
        from rich.table import Table

        table = Table()
        for column in frame.columns:
            table.add_column(str(column))
        for row in frame.itertuples(index=False):
            table.add_row(*(_table_cell(value) for value in row))
        console.print(table)


def _table_cell(value: object) -> str:
    """A query result value as text: empty for NULL, a date without a midnight time."""
    import pandas as pd

    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp) and value == value.normalize() and value.tz is None:
        return value.date().isoformat()
    return str(value)


@app.command()
def report(
    grain: Annotated[Grain, typer.Option(help="Period grain.")] = Grain.month,
    html: Annotated[
        Path | None, typer.Option(help="Also write the visual report to this HTML file.")
    ] = None,
) -> None:
    """Print the headline churn table for a grain, with the reason mix of its last complete period."""
    from churn_pipeline.query import QueryError

    settings = _settings()
    try:
        _print_headline(settings, grain.value)
        if html is not None:
            from churn_pipeline.html_report import write_html_report

            written = write_html_report(settings, html, grain.value)
            console.print(f"wrote the visual report to {written}")
    except QueryError as error:
        raise UserError(str(error)) from None


@app.command()
def bench(
    customers: Annotated[int, typer.Option(min=1, help="Number of demo customers.")] = 100_000,
    days: Annotated[int, typer.Option(min=31, help="Days of history.")] = 730,
    seed: Annotated[int, typer.Option(help="Random seed of the demo data.")] = 42,
    repeat: Annotated[
        int, typer.Option(min=1, help="Runs of the backfill, floor and pandas peer (median).")
    ] = 3,
    json_path: Annotated[
        Path, typer.Option("--json", help="Where to write every figure as JSON.")
    ] = Path("data/bench/results.json"),
    data_dir: Annotated[
        Path | None, typer.Option(help="Cache of generated data and run folders.")
    ] = None,
    pandas_memory_gb: Annotated[
        float, typer.Option(min=0.1, help="Memory guard of the pandas peer (GiB of RSS).")
    ] = 16.0,
    nights: Annotated[
        int, typer.Option(min=1, max=3, help="Measured nightly runs after one warm-up night.")
    ] = 3,
) -> None:
    """Benchmark the pipeline against one DuckDB query (the floor) and a pandas peer."""
    from churn_pipeline import bench as bench_module
    from churn_pipeline.settings import PROJECT_ROOT

    def resolve(path: Path) -> Path:
        return path if path.is_absolute() else (PROJECT_ROOT / path).resolve()

    try:
        result = bench_module.run_bench(
            customers,
            days,
            seed=seed,
            repeat=repeat,
            data_dir=resolve(data_dir) if data_dir else bench_module.DEFAULT_DATA_DIR,
            pandas_guard_gb=pandas_memory_gb,
            nights=nights,
            progress=lambda message: errors.print(f"[dim]bench:[/dim] {message}", highlight=False),
        )
    except bench_module.BenchError as error:
        raise UserError(str(error)) from None
    bench_module.write_json(result, resolve(json_path))
    _print_bench(result)
    console.print(f"wrote {resolve(json_path)}")
    failed = bench_module.failed_checks(result)
    if failed:
        raise UserError("results differ: " + "; ".join(failed))


def _print_bench(result: object) -> None:
    from rich.table import Table

    from churn_pipeline.bench import BenchResult, table_rows

    assert isinstance(result, BenchResult)
    table = Table(title="churn-pipeline bench (median of runs)")
    for column in ("figure", "seconds", "peak RSS"):
        table.add_column(column)
    for row in table_rows(result):
        table.add_row(*row)
    console.print(table)
    steps = Table(title="backfill by step (median of runs)")
    for column in ("step", "seconds"):
        steps.add_column(column)
    for step, seconds in result.backfill_steps.items():
        steps.add_row(step, f"{seconds:.2f}")
    console.print(steps)
    targets = Table(title="targets")
    for column in ("target", "value", "limit", "met"):
        targets.add_column(column)
    for name, target in result.targets.items():
        met = {True: "yes", False: "NO", None: "–"}[target["met"]]
        targets.add_row(name, str(target["value"]), str(target["limit"]), met)
    console.print(targets)
    for name, values in result.round_ratios.items():
        if values:
            console.print(f"{name}, each round: " + ", ".join(str(v) for v in values))
    for name, check in result.checks.items():
        state = "equal" if check["passed"] else "DIFFERENT"
        console.print(f"{name}: {state} on {check['months_compared']} months")


@app.command()
def dev(
    port: Annotated[int, typer.Option(help="Port of the Dagster UI.")] = 3000,
) -> None:
    """Start the Dagster UI (`dagster dev -w workspace.yaml`) on the same warehouse and Dagster home."""
    from churn_pipeline.runs import InstanceError, open_instance
    from churn_pipeline.settings import PROJECT_ROOT

    settings = _settings()
    # sets DAGSTER_HOME (and the event batch size when the instance's storage takes batches),
    # inherited by the webserver, the daemon and the runs they launch
    try:
        open_instance(settings).dispose()
    except InstanceError as error:
        raise UserError(str(error)) from None
    dagster = Path(sys.executable).with_name("dagster")
    os.chdir(PROJECT_ROOT)
    os.execv(str(dagster), [str(dagster), "dev", "-w", "workspace.yaml", "--port", str(port)])


def main() -> None:
    try:
        app(standalone_mode=False)
    except UserError as error:
        errors.print(f"error: {error}", highlight=False, soft_wrap=True)
        _leave(1)
    except SettingsError as error:
        errors.print(f"error: {error}", highlight=False, soft_wrap=True)
        _leave(1)
    except (typer.Exit, typer.Abort) as stop:
        _leave(getattr(stop, "exit_code", 1))
    except (
        Exception
    ) as error:  # usage errors (bad flags, bad values) arrive here in standalone_mode=False
        show = getattr(error, "show", None)
        if callable(show) and hasattr(error, "exit_code"):
            show()
            _leave(int(error.exit_code))
        raise
    _leave(0)


def _leave(code: int | None) -> NoReturn:
    """Exit without the interpreter's teardown of every module object.

    After a run the process holds Dagster, SQLAlchemy, DuckDB and plotly; freeing them one by
    one took 0.6–1.1 s of every command on the benchmark machine. What a normal exit does
    that matters is kept: wait for non-daemon threads, run the atexit handlers (logging's
    flush, weakref finalizers such as temporary directories), flush the output.
    """
    shutdown_threads = getattr(threading, "_shutdown", None)  # what exit runs first (CPython)
    if callable(shutdown_threads):
        shutdown_threads()  # thread-pool exit hooks, then a join of the non-daemon threads
    else:
        for thread in threading.enumerate():
            if thread is not threading.main_thread() and not thread.daemon:
                thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code or 0)
