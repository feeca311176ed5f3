"""The benchmark harness at a tiny size: it finishes, writes complete JSON, results agree.

No timing is asserted: the figures depend on the machine and its load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from churn_pipeline.bench import TARGETS
from churn_pipeline.settings import PROJECT_ROOT

NUMBERS = (
    "backfill_seconds",
    "nightly_seconds_long_history",
    "nightly_seconds_short_history",
    "floor_seconds",
    "peak_rss_mb",
    "floor_peak_rss_mb",
    "nightly_peak_rss_mb_long_history",
    "nightly_peak_rss_mb_short_history",
)


def test_bench_smoke_run_writes_json_and_results_agree(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    cli = Path(sys.executable).with_name("churn-pipeline")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHURN_", "DAGSTER_"))}
    done = subprocess.run(
        [
            str(cli), "bench", "--customers", "300", "--days", "35", "--repeat", "2",
            "--nights", "1", "--json", str(out), "--data-dir", str(tmp_path / "data"),
        ],
        env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "pipeline_equals_floor: equal" in done.stdout
    result = json.loads(out.read_text(encoding="utf-8"))

    for key in NUMBERS:
        assert isinstance(result[key], int | float) and result[key] > 0, key
    assert result["snapshot_rows"] > 0 and result["snapshot_files"] == 34  # one gap day
    assert result["pandas_status"] == "ok"
    assert result["pandas_seconds"] > 0 and result["pandas_peak_rss_mb"] > 0
    assert result["parameters"] == {
        "customers": 300, "days": 35, "seed": 42, "repeat": 2, "nights": 1,
    }  # fmt: skip
    assert len(result["backfill_runs"]) == len(result["floor_runs"]) == 2
    # rounds: the second floor run comes after the first backfill, so each ratio compares
    # runs of the same minutes
    logs = tmp_path / "data" / "runs" / "logs"
    assert (logs / "backfill_1.log").stat().st_mtime <= (logs / "floor_2.log").stat().st_mtime
    assert (logs / "pandas_2.log").stat().st_mtime <= (logs / "backfill_2.log").stat().st_mtime
    for name, runs in (
        ("backfill_over_floor", "floor_runs"),
        ("backfill_over_pandas", "pandas_runs"),
    ):
        expected = [
            round(b / f, 3) for b, f in zip(result["backfill_runs"], result[runs], strict=True)
        ]
        assert result["round_ratios"][name] == expected
    steps = result["backfill_steps"]
    assert steps["raw__subscription_snapshots"] > 0 and steps["core__customer_movements"] > 0
    assert "reporting__html_report" in steps and "outside steps" in steps
    # the steps and what lies outside them add up to the median-ish backfill (medians of parts)
    assert (
        0 < sum(v for k, v in steps.items() if k != "outside steps") < max(result["backfill_runs"])
    )
    assert "backfill by step" in done.stdout
    assert result["machine"]["cores"] >= 1 and result["machine"]["memory_gib"] > 0
    assert {"python", "duckdb", "dagster", "pandas"} <= set(result["versions"])
    assert set(result["targets"]) == set(TARGETS)
    for target in result["targets"].values():
        assert target["met"] in (True, False) and target["limit"] > 0
    assert set(result["ratios"]) >= {"backfill_over_floor", "nightly_long_over_short"}
    for check in ("pipeline_equals_floor", "floor_equals_pandas"):
        assert result["checks"][check]["passed"], result["checks"][check]
        assert result["checks"][check]["months_compared"] >= 1
    assert result["generate_seconds"] is not None


def test_bench_reuses_generated_data_and_reports_a_difference(tmp_path: Path) -> None:
    from churn_pipeline.bench import compare_months, prepare_dataset

    first, seconds = prepare_dataset(tmp_path, 50, 32, 7)
    again, reused = prepare_dataset(tmp_path, 50, 32, 7)
    assert seconds is not None and reused is None
    assert (
        first.history == again.history and first.nights and first.history[-1] <= first.history_end
    )
    row = {
        "period_start": "2024-02-01",
        "customers_start": 3,
        "churned_from_start": 1,
        "mrr_start": 10,
    }
    differing = compare_months([row], [{**row, "mrr_start": 11}], {"2024-02-01"})
    assert not differing["passed"] and differing["differences"][0]["column"] == "mrr_start"
    assert compare_months([row], [row], {"2024-02-01"})["passed"]


def test_runs_ignore_settings_from_the_project_env_file(tmp_path: Path) -> None:
    """A time zone or status mapping in .env would change the pipeline's numbers, not the floor's."""
    from datetime import date

    from churn_pipeline.bench import BenchDataset, _pipeline_env
    from churn_pipeline.settings import Settings

    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "CHURN_TIMEZONE=Europe/Berlin\nCHURN_PAST_DUE_GRACE_DAYS=0\nCHURN_DUCKDB_THREADS=1\n",
        encoding="utf-8",
    )
    dataset = BenchDataset(tmp_path / "landing", [date(2024, 1, 1)], [], date(2024, 1, 1))
    env = _pipeline_env(dataset, tmp_path / "work", dotenv_file=dotenv)
    assert env["CHURN_TIMEZONE"] == "" and env["CHURN_PAST_DUE_GRACE_DAYS"] == ""
    assert "CHURN_DUCKDB_THREADS" not in env or env["CHURN_DUCKDB_THREADS"] != ""
    # what a run sees: the environment wins over the file, and empty means the default
    settings = Settings.from_env({**{"CHURN_TIMEZONE": "Europe/Berlin"}, **env})
    assert settings.timezone == "UTC" and settings.past_due_grace_days is None
    assert settings.landing_dir == dataset.landing


def test_a_measured_command_reports_its_own_peak_memory_not_the_bench_process(
    tmp_path: Path,
) -> None:
    """Linux carries a forking parent's high-water mark across execve into the child's ru_maxrss."""
    from churn_pipeline.bench import measure

    held_by_the_bench = bytearray(400 * 2**20)
    held_by_the_bench[::4096] = b"x" * len(held_by_the_bench[::4096])  # touch every page
    allocates_64_mb = "x = bytearray(64 * 2**20); x[::4096] = b'y' * len(x[::4096])"
    measured = measure([sys.executable, "-c", allocates_64_mb], log=tmp_path / "child.log")

    assert measured.returncode == 0 and not measured.killed_by_guard
    assert 64 <= measured.peak_rss_mb < 200, measured.peak_rss_mb
    del held_by_the_bench


def test_the_memory_guard_kills_a_command_that_outgrows_it(tmp_path: Path) -> None:
    from churn_pipeline.bench import measure

    grows_forever = (
        "import time\nchunks = []\nwhile True:\n"
        "    chunks.append(bytearray(16 * 2**20)); chunks[-1][::4096] = b'z' * 4096; time.sleep(0.01)"
    )
    measured = measure([sys.executable, "-c", grows_forever], rss_guard_mb=150)

    assert measured.killed_by_guard and measured.returncode != 0
    assert 150 <= measured.peak_rss_mb < 1000, measured.peak_rss_mb


def test_a_stopped_launcher_stops_the_measured_command(tmp_path: Path) -> None:
    """A bench stopped half-way must not leave a backfill holding the warehouse behind, even
    when the bench itself was started with SIGTERM ignored (the disposition is inherited)."""
    import signal
    import time

    marker = tmp_path / "started"
    sleeps = f"import pathlib, time; pathlib.Path({str(marker)!r}).touch(); time.sleep(60)"
    result = tmp_path / "measured.json"
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "churn_pipeline.bench_child", str(result), "0", "--",
             sys.executable, "-c", sleeps],
            cwd=PROJECT_ROOT,
        )  # fmt: skip
    finally:
        signal.signal(signal.SIGTERM, previous)
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists()
    launcher.send_signal(signal.SIGTERM)

    assert launcher.wait(timeout=20) == 0
    measured = json.loads(result.read_text(encoding="utf-8"))
    assert measured["returncode"] == -signal.SIGTERM and measured["seconds"] < 30
