"""Finding snapshot files in the landing folder.

Accepted layouts, one snapshot date each: `YYYY-MM-DD.csv`, `YYYY-MM-DD.parquet`, and a
hive folder `snapshot_date=YYYY-MM-DD/` holding one or more `*.parquet` parts. Files
that are not CSV or Parquet (a README, `.DS_Store`) are ignored; a CSV or Parquet file
whose name is not a valid date is an error, because ignoring it would silently drop a day.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path

DATED_FILE = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})\.(?P<ext>csv|parquet)$", re.IGNORECASE)
HIVE_FOLDER = re.compile(r"^snapshot_date=(?P<date>.+)$")


class LandingError(ValueError):
    """The landing folder holds something that cannot be read as snapshots."""


@dataclass(frozen=True)
class SnapshotSource:
    snapshot_date: date
    format: str  # "csv" | "parquet"
    paths: tuple[Path, ...]

    @property
    def label(self) -> str:
        return ", ".join(str(p) for p in self.paths)


def expected_names(snapshot_date: date) -> str:
    day = snapshot_date.isoformat()
    return f"{day}.csv, {day}.parquet or snapshot_date={day}/*.parquet"


def _parse_date(text: str, where: Path) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise LandingError(
            f"{where}: the name does not hold a valid snapshot date (expected YYYY-MM-DD, got {text!r})"
        ) from None


def discover(landing_dir: Path) -> dict[date, SnapshotSource]:
    """Every snapshot date in the folder with its file(s); raises LandingError on conflicts."""
    if not landing_dir.is_dir():
        raise LandingError(f"landing folder {landing_dir} does not exist (set CHURN_LANDING_DIR)")
    found: dict[date, list[SnapshotSource]] = defaultdict(list)
    root = landing_dir.resolve()
    for entry in sorted(landing_dir.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            hive = HIVE_FOLDER.match(entry.name)
            if not hive:
                continue
            day = _parse_date(hive["date"], entry)
            _refuse_escape(entry, root)
            parts = tuple(sorted(p for p in entry.glob("*.parquet") if p.is_file()))
            for part in parts:
                _refuse_escape(part, root)
            if not parts:
                raise LandingError(f"{entry}: the folder holds no *.parquet file")
            found[day].append(SnapshotSource(day, "parquet", parts))
            continue
        suffix = entry.suffix.lower()
        if suffix not in (".csv", ".parquet"):
            continue
        _refuse_escape(entry, root)
        dated = DATED_FILE.match(entry.name)
        if not dated:
            raise LandingError(
                f"{entry}: a {suffix[1:]} file whose name is not a snapshot date "
                "(expected YYYY-MM-DD.csv or YYYY-MM-DD.parquet)"
            )
        day = _parse_date(dated["date"], entry)
        found[day].append(SnapshotSource(day, suffix[1:], (entry,)))
    sources: dict[date, SnapshotSource] = {}
    for day, candidates in found.items():
        if len(candidates) > 1:
            names = "; ".join(c.label for c in candidates)
            raise LandingError(
                f"two different files for snapshot date {day}: {names}. Keep one: a re-sent "
                "day must replace the older file, not sit beside it"
            )
        sources[day] = candidates[0]
    return dict(sorted(sources.items()))


def _refuse_escape(entry: Path, root: Path) -> None:
    """A link in the landing folder (resolved: `root`) must not make the pipeline read a file
    from elsewhere. Only links are resolved: an entry that is none lies where it is listed,
    and resolving each of a long history's files cost a tenth of a second per listing."""
    if not entry.is_symlink():
        return
    target = entry.resolve()
    if target != root and root not in target.parents:
        raise LandingError(f"{entry}: points outside the landing folder (to {target}); refused")


def earliest_snapshot_date(landing_dir: Path) -> date | None:
    """The first date in the folder, tolerant of a missing folder or bad names."""
    if not landing_dir.is_dir():
        return None
    dates = []
    for entry in landing_dir.iterdir():
        match = DATED_FILE.match(entry.name) or HIVE_FOLDER.match(entry.name)
        if match:
            try:
                dates.append(date.fromisoformat(match["date"]))
            except ValueError:
                continue
    return min(dates, default=None)
