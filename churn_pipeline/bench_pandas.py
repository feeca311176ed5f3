"""The benchmark's pandas peer: the floor's monthly numbers in straightforward pandas.

Reads every snapshot file's three needed columns with pyarrow dtypes into one frame, then
computes, per month, the customers active at start, how many of them are inactive at the
end, and their MRR at start, by the same rules as `sql/bench/floor_monthly_churn.sql`.
Run as a child process of the benchmark (`python -m churn_pipeline.bench_pandas FILES OUT`),
under its memory guard.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})[^0-9]*$")
PAYING_STATUSES = ("active", "past_due")


def snapshot_date_of(path: str) -> date:
    found = DATE_IN_NAME.search(path)
    if found is None:
        raise ValueError(f"{path}: no snapshot date in the file name")
    return date.fromisoformat(found[1])


def read_snapshots(files: list[str]) -> pd.DataFrame:
    frames = []
    for path in files:
        frame = pd.read_parquet(
            path, columns=["customer_id", "status", "mrr"], dtype_backend="pyarrow"
        )
        frame["snapshot_date"] = pd.Timestamp(snapshot_date_of(path))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def month_starts(first: date, latest: date) -> list[date]:
    months, current = [], date(first.year, first.month, 1)
    while current <= latest:
        months.append(current)
        current = date(current.year + current.month // 12, current.month % 12 + 1, 1)
    return months


def monthly_churn(files: list[str]) -> list[dict[str, object]]:
    snapshots = read_snapshots(files)
    status = snapshots["status"].str.lower()
    snapshots["is_paying"] = status.isin(PAYING_STATUSES) & (snapshots["mrr"] > 0)
    snapshots["is_held"] = status == "paused"
    snapshots["mrr_cents"] = (snapshots["mrr"] * 100).round().astype("int64[pyarrow]")
    dates = sorted({snapshot_date_of(p) for p in files})
    first, latest = dates[0], dates[-1]

    activated = snapshots[
        snapshots["is_paying"]
        | (snapshots["is_held"] & (snapshots["snapshot_date"] == pd.Timestamp(first)))
    ]
    first_activation = activated.groupby("customer_id")["snapshot_date"].min()

    def latest_snapshot_on_or_before(day: date) -> date:
        return max(d for d in dates if d <= day)

    def active_on(day: date) -> pd.DataFrame:
        rows = snapshots[snapshots["snapshot_date"] == pd.Timestamp(day)]
        rows = rows.assign(paying_mrr=rows["mrr_cents"].where(rows["is_paying"], 0))
        states = rows.groupby("customer_id").agg(
            mrr_cents=("paying_mrr", "sum"),
            has_paying=("is_paying", "any"),
            has_held=("is_held", "any"),
        )
        activation = first_activation.reindex(states.index)
        active = states["has_paying"] | (
            states["has_held"] & (activation <= pd.Timestamp(day)).fillna(False)
        )
        return states[active]

    results = []
    for period_start in month_starts(first, latest):
        if period_start <= first:
            continue
        period_end = month_starts(period_start, period_start + timedelta(days=31))[1]
        start_day = period_start - timedelta(days=1)
        end_day = min(period_end - timedelta(days=1), latest)
        start_snapshot = latest_snapshot_on_or_before(start_day)
        end_snapshot = latest_snapshot_on_or_before(end_day)
        at_start = active_on(start_snapshot)
        at_end = active_on(end_snapshot)
        results.append(
            {
                "period_start": period_start.isoformat(),
                "period_end": period_end.isoformat(),
                "boundaries_are_snapshots": start_snapshot == start_day and end_snapshot == end_day,
                "customers_start": len(at_start),
                "churned_from_start": int((~at_start.index.isin(at_end.index)).sum()),
                "mrr_start": int(at_start["mrr_cents"].sum()),
            }
        )
    return results


def main() -> None:
    files_list, out = Path(sys.argv[1]), Path(sys.argv[2])
    files = [line for line in files_list.read_text(encoding="utf-8").splitlines() if line]
    rows = monthly_churn(files)
    out.write_text(json.dumps({"rows": rows}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
