"""The benchmark's floor: `sql/bench/floor_monthly_churn.sql` on the Parquet files, nothing else.

Run as a child process of the benchmark (`python -m churn_pipeline.bench_floor FILES OUT`):
an in-memory DuckDB with its default settings, one statement, the result written as JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb

from churn_pipeline.settings import PROJECT_ROOT

FLOOR_SQL = PROJECT_ROOT / "sql" / "bench" / "floor_monthly_churn.sql"


def monthly_churn(files: list[str], sql_path: Path = FLOOR_SQL) -> list[dict[str, object]]:
    with duckdb.connect() as conn:
        cursor = conn.execute(sql_path.read_text(encoding="utf-8"), {"files": files})
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return [
        {
            "period_start": row["period_start"].isoformat(),
            "period_end": row["period_end"].isoformat(),
            "boundaries_are_snapshots": bool(row["boundaries_are_snapshots"]),
            "customers_start": int(row["customers_start"]),
            "churned_from_start": int(row["churned_from_start"]),
            "mrr_start": int(row["mrr_start"]),
        }
        for row in rows
    ]


def main() -> None:
    files_list, out = Path(sys.argv[1]), Path(sys.argv[2])
    sql_path = Path(sys.argv[3]) if len(sys.argv) > 3 else FLOOR_SQL
    files = [line for line in files_list.read_text(encoding="utf-8").splitlines() if line]
    rows = monthly_churn(files, sql_path)
    out.write_text(json.dumps({"rows": rows}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
