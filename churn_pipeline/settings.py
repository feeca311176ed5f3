"""Configuration read from environment variables (and a `.env` file in the project root).

Every setting has a default that makes `make run` work on the bundled demo data. Relative
paths are resolved against the project root, not the current working directory, so the
CLI, `dagster dev` and the tests all agree on where the warehouse lives.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_ROOT = Path(__file__).resolve().parent
DEFAULT_START_DATE = date(2024, 1, 1)

# ISO 4217 minor-unit exponents that differ from 2, plus the common 2-digit ones for
# validation. A currency missing here is accepted with exponent 2.
CURRENCY_EXPONENTS: dict[str, int] = {
    "BHD": 3, "CLP": 0, "IQD": 3, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3,
    "LYD": 3, "OMR": 3, "PYG": 0, "TND": 3, "UGX": 0, "VND": 0, "XAF": 0, "XOF": 0,
}  # fmt: skip


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


def currency_exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS.get(currency.upper(), 2)


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    warehouse_path: Path
    published_dir: Path
    start_date: date | None
    timezone: str
    currency: str
    dagster_home: Path
    past_due_grace_days: int | None = None
    reason_mapping_path: Path | None = None
    status_mapping_path: Path | None = None
    max_mrr: int = 1_000_000
    quarantine_threshold: float = 0.01
    active_drop_warning: float = 0.3
    nightly_at: tuple[int, int] = (3, 0)
    lock_timeout_seconds: int = 600
    duckdb_memory_limit: str = "3GB"
    duckdb_threads: int = 2
    sql_dir: Path = field(default=PROJECT_ROOT / "sql")
    storage: str = "warehouse"  # warehouse | lake (docs/deployment.md)
    lake_path: str = str(PROJECT_ROOT / "data" / "lake")  # a folder, or s3://bucket/prefix
    backfill_run_days: int = 31  # lake mode: dates per run of a backfill split into runs

    @property
    def lake_mode(self) -> bool:
        return self.storage == "lake"

    @property
    def currency_exponent(self) -> int:
        return currency_exponent(self.currency)

    @property
    def landing_is_default(self) -> bool:
        return self.landing_dir == (PROJECT_ROOT / "data" / "landing").resolve()

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = _merged_environment(environ)

        def path(name: str, default: Path) -> Path:
            raw = env.get(name, "").strip()
            value = Path(raw).expanduser() if raw else default
            return value if value.is_absolute() else (PROJECT_ROOT / value).resolve()

        warehouse = path("CHURN_WAREHOUSE", PROJECT_ROOT / "data" / "warehouse.duckdb")
        return cls(
            landing_dir=path("CHURN_LANDING_DIR", PROJECT_ROOT / "data" / "landing"),
            warehouse_path=warehouse,
            published_dir=path("CHURN_PUBLISHED_DIR", warehouse.parent / "published"),
            start_date=_optional_date(env, "CHURN_START_DATE"),
            timezone=_timezone(env.get("CHURN_TIMEZONE", "").strip() or "UTC"),
            currency=_currency(env.get("CHURN_CURRENCY", "").strip() or "USD"),
            dagster_home=path("DAGSTER_HOME", PROJECT_ROOT / ".dagster"),
            past_due_grace_days=_optional_int(env, "CHURN_PAST_DUE_GRACE_DAYS", minimum=0),
            reason_mapping_path=_optional_path(env, "CHURN_REASON_MAPPING"),
            status_mapping_path=_optional_path(env, "CHURN_STATUS_MAPPING"),
            max_mrr=_optional_int(env, "CHURN_MAX_MRR", minimum=1) or 1_000_000,
            quarantine_threshold=_fraction(env, "CHURN_QUARANTINE_THRESHOLD", 0.01),
            active_drop_warning=_fraction(env, "CHURN_ACTIVE_DROP_WARNING", 0.3),
            nightly_at=_time_of_day(env, "CHURN_NIGHTLY_AT", (3, 0)),
            lock_timeout_seconds=_optional_int(env, "CHURN_LOCK_TIMEOUT_SECONDS", minimum=0) or 600,
            duckdb_memory_limit=env.get("CHURN_DUCKDB_MEMORY_LIMIT", "").strip() or "3GB",
            duckdb_threads=_optional_int(env, "CHURN_DUCKDB_THREADS", minimum=1) or 2,
            sql_dir=path("CHURN_SQL_DIR", PROJECT_ROOT / "sql"),
            storage=_storage(env.get("CHURN_STORAGE", "").strip().lower() or "warehouse"),
            lake_path=_lake_path(env.get("CHURN_LAKE_PATH", "").strip(), warehouse.parent / "lake"),
            backfill_run_days=_optional_int(env, "CHURN_BACKFILL_RUN_DAYS", minimum=1) or 31,
        )


def _storage(value: str) -> str:
    if value not in ("warehouse", "lake"):
        raise SettingsError(f"CHURN_STORAGE must be warehouse or lake, not {value!r}")
    return value


def _lake_path(value: str, default: Path) -> str:
    """A local folder (made absolute against the project root) or an object-store URI."""
    if "://" in value:
        return value.rstrip("/")
    path = Path(value).expanduser() if value else default
    return str(path if path.is_absolute() else (PROJECT_ROOT / path).resolve())


def _merged_environment(environ: dict[str, str] | None) -> dict[str, str]:
    if environ is not None:
        return dict(environ)
    dotenv_file = PROJECT_ROOT / ".env"
    from_file = {k: v for k, v in dotenv_values(dotenv_file).items() if v is not None}
    return {**from_file, **os.environ}


def _optional_date(env: dict[str, str], name: str) -> date | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a date in YYYY-MM-DD form") from None


def _optional_int(env: dict[str, str], name: str, minimum: int) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise SettingsError(f"{name}={raw!r} must be at least {minimum}")
    return value


def _fraction(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if not 0 <= value <= 1:
        raise SettingsError(f"{name}={raw!r} must be a fraction between 0 and 1")
    return value


def _time_of_day(env: dict[str, str], name: str, default: tuple[int, int]) -> tuple[int, int]:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    hours, _, minutes = raw.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
        raise SettingsError(f"{name}={raw!r} is not a time of day like 03:00")
    return int(hours), int(minutes)


def _optional_path(env: dict[str, str], name: str) -> Path | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    value = Path(raw).expanduser()
    value = value if value.is_absolute() else (PROJECT_ROOT / value).resolve()
    if not value.is_file():
        raise SettingsError(f"{name}={raw!r}: no such file ({value})")
    return value


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"CHURN_TIMEZONE={name!r} is not an IANA time zone") from None
    return name


def _currency(code: str) -> str:
    if len(code) != 3 or not code.isalpha():
        raise SettingsError(f"CHURN_CURRENCY={code!r} is not an ISO 4217 code like USD")
    return code.upper()
