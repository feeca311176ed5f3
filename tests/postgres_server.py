"""A throwaway PostgreSQL server for tests: Debian's `postgresql` package, a temporary data
directory, a free local port, stopped afterwards.

The package is installed with apt-get when its binaries are missing (tests run as root in CI);
when that is impossible the test fails with the reason instead of skipping. `initdb` refuses
to run as root, so the cluster belongs to the `postgres` user.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

POSTGRES_ROOT = Path("/usr/lib/postgresql")
INSTALL_TIMEOUT_SECONDS = 1800


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    database: str
    bin_dir: Path

    def env(self) -> dict[str, str]:
        """The variables deploy/postgres/dagster.yaml reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": "",
            "DAGSTER_PG_DB": self.database,
        }

    def query(self, sql: str) -> str:
        result = subprocess.run(
            [
                str(self.bin_dir / "psql"), "-h", self.host, "-p", str(self.port), "-U", self.user,
                "-d", self.database, "-At", "-c", sql,
            ],
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        return result.stdout.strip()


def postgres_bin_dir() -> Path:
    versions = sorted(
        (p for p in POSTGRES_ROOT.glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1]
    try:
        result = subprocess.run(
            ["sh", "-c", "apt-get update && apt-get install -y --no-install-recommends postgresql"],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_SECONDS,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        pytest.fail(f"cannot install PostgreSQL with apt-get: {error}", pytrace=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        pytest.fail(
            f"the Postgres-backed instance tests need Debian's postgresql package; "
            f"`apt-get install -y postgresql` failed (exit {result.returncode}):\n{tail}",
            pytrace=False,
        )
    return postgres_bin_dir()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def as_postgres(*command: str) -> list[str]:
    return list(command) if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *command]


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = postgres_bin_dir()
    # not under pytest's tmp_path: its parents are private to root, the server runs as postgres
    data_root = Path(tempfile.mkdtemp(prefix="churn-pg-"))
    data_dir, socket_dir = data_root / "data", data_root / "socket"
    socket_dir.mkdir()
    if os.geteuid() == 0:
        shutil.chown(data_root, "postgres", "postgres")
        shutil.chown(socket_dir, "postgres", "postgres")
    port = free_port()
    run = lambda *args: subprocess.run(  # noqa: E731
        as_postgres(*args), capture_output=True, text=True, check=True, timeout=120
    )
    try:
        run(str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "dagster", "--auth=trust",
            "-E", "UTF8", "--locale=C")  # fmt: skip
        run(
            str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-l", str(data_root / "server.log"),
            "-w", "-t", "60", "-o", f"-p {port} -k {socket_dir} -c listen_addresses=127.0.0.1",
            "start",
        )  # fmt: skip
    except subprocess.CalledProcessError as error:
        log = data_root / "server.log"
        detail = log.read_text() if log.exists() else ""
        shutil.rmtree(data_root, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {error.stderr}\n{detail}", pytrace=False)
    server = PostgresServer("127.0.0.1", port, "dagster", "postgres", bin_dir)
    try:
        server.query("create database dagster")
        yield PostgresServer("127.0.0.1", port, "dagster", "dagster", bin_dir)
    finally:
        subprocess.run(
            as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "stop"),
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(data_root, ignore_errors=True)
