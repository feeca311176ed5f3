"""Runs one measured command of the benchmark and reports its wall time and peak RSS.

`python -m churn_pipeline.bench_child RESULT_JSON GUARD_MB -- COMMAND...`

Why a process of its own: Linux keeps the high-water mark of the memory a child was forked
with across `execve`, so a command started by the bench itself (which may hold hundreds of MB
of generated data) reported the bench's size as its own peak. Started from this small process,
a command's `ru_maxrss` (from `wait4`: its own and its waited-for children's high-water mark)
carries at most this process's ~10 MB. Only the standard library is imported, to stay small.

GUARD_MB > 0 kills the command once its resident memory passes the guard (the pandas peer).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

POLL_SECONDS = 0.05


def resident_mb(pid: int) -> float:
    """Current resident memory of a running process, 0 once it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return 0.0
    return 0.0


def run_measured(command: list[str], guard_mb: float) -> dict[str, float | int | bool]:
    # A bench stopped half-way (SIGTERM, SIGINT) stops the command too, not only this process.
    # The handlers are set before the command starts: a signal arriving in between is passed on
    # once it has, and the command does not inherit a disposition of SIG_IGN from this process.
    started: list[subprocess.Popen[bytes]] = []
    received: list[int] = []

    def pass_on(number: int, _frame: object) -> None:
        received.append(number)
        for child in started:
            child.send_signal(number)

    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, pass_on)
    began = time.perf_counter()
    child = subprocess.Popen(command)
    started.append(child)
    for number in received:
        child.send_signal(number)
    killed = False
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if guard_mb > 0 and not killed and resident_mb(child.pid) > guard_mb:
            os.kill(child.pid, signal.SIGKILL)
            killed = True
        time.sleep(POLL_SECONDS)
    return {
        "seconds": time.perf_counter() - began,
        "peak_rss_mb": usage.ru_maxrss / 1024,  # kilobytes on Linux
        "returncode": os.waitstatus_to_exitcode(status),
        "killed_by_guard": killed,
    }


def main() -> None:
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        raise SystemExit(
            "usage: python -m churn_pipeline.bench_child RESULT GUARD_MB -- COMMAND..."
        )
    result_path, guard_mb, _, *command = sys.argv[1:]
    result = run_measured(command, float(guard_mb))
    Path(result_path).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
