"""Measurement prototype for issue #9, not part of the pipeline: the bench history stored as
change rows, and the floor's monthly numbers computed from them alone.

What it measures: how long reading every snapshot file once and keeping only the rows that
differ from the subscription's row on the previous loaded date (plus a "gone" row when a
subscription disappears) takes, how many rows that keeps, and whether the floor's monthly
customers at start, churned from start and MRR at start can be rebuilt from those rows.
It skips what the pipeline would still do on the changed rows (validation, the history
rule, the movement log); docs/benchmarks.md, "Session 8", gives the figures and what is left.

    .venv/bin/churn-pipeline bench ...          # once: the history and the floor's result
    .venv/bin/python docs/prototypes/change_rows.py data/bench/runs/history_files.txt \
        data/bench/runs/floor.json

The SQL is inline on purpose: this is a throwaway measurement, kept so its figures can be
reproduced; the pipeline's SQL lives in sql/.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

CHUNK_DAYS = 31

CHUNK_ROWS = """
create or replace temp table chunk_rows as
select
    batch.day as snapshot_date,
    rows.file_row_number + 1 as source_row,
    rows.subscription_id, rows.customer_id, rows.status, rows.mrr, rows.currency, rows.plan,
    rows.started_at, rows.canceled_at, rows.ended_at, rows.cancel_reason,
    hash(rows.subscription_id, rows.customer_id, rows.status, rows.mrr, rows.currency,
         rows.plan, rows.started_at, rows.canceled_at, rows.ended_at, rows.cancel_reason) as row_hash
from read_parquet(getvariable('chunk_files'), filename = true, file_row_number = true) as rows
inner join (
    select unnest(getvariable('chunk_files')) as file, unnest(getvariable('chunk_days')) as day
) as batch on rows.filename = batch.file
"""

DUPLICATE_KEYS = """
select count(*) from (
    select snapshot_date, subscription_id from chunk_rows group by all having count(*) > 1
)
"""

# one full outer join of each row with the subscription's row on the previous loaded date
CHUNK_CHANGES = """
create or replace temp table chunk_changes as
with previous_rows as (
    select hashes.subscription_id, hashes.row_hash, dates.next_date
    from (
        select snapshot_date, subscription_id, row_hash from chunk_rows
        union all
        select * from last_state
    ) as hashes
    inner join loaded_dates as dates using (snapshot_date)
    where dates.next_date <= (select max(snapshot_date) from chunk_rows)
)

select
    coalesce(current_rows.snapshot_date, previous_rows.next_date) as snapshot_date,
    coalesce(current_rows.subscription_id, previous_rows.subscription_id) as subscription_id,
    current_rows.source_row,
    current_rows.subscription_id is null as is_gone
from previous_rows
full outer join chunk_rows as current_rows
    on previous_rows.subscription_id = current_rows.subscription_id
    and previous_rows.next_date = current_rows.snapshot_date
where previous_rows.row_hash is distinct from current_rows.row_hash
"""

MONTHLY_NUMBERS = """
with events as (
    select snapshot_date, subscription_id, true as present, customer_id, status, mrr
    from versions
    union all
    select snapshot_date, subscription_id, false, null, null, null from gone
),

boundary_days as (
    select start_snapshot as day from month_bounds
    union
    select end_snapshot from month_bounds
),

boundary_rows as (
    select boundary_days.day, events.*
    from boundary_days
    inner join events on events.snapshot_date <= boundary_days.day
    qualify row_number() over (
        partition by boundary_days.day, events.subscription_id order by events.snapshot_date desc
    ) = 1
),

first_activation as (
    select customer_id, min(snapshot_date) as first_activation_date
    from versions
    where (lower(status) in ('active', 'past_due') and mrr > 0)
        or (lower(status) = 'paused' and snapshot_date = (select min(snapshot_date) from loaded_dates))
    group by customer_id
),

customer_states as (
    select
        day,
        customer_id,
        coalesce(sum(cast(round(mrr * 100) as bigint))
            filter (where lower(status) in ('active', 'past_due') and mrr > 0), 0) as mrr_cents,
        bool_or(lower(status) in ('active', 'past_due') and mrr > 0) as has_paying,
        bool_or(lower(status) = 'paused') as has_held
    from boundary_rows
    where present
    group by all
),

active_customers as (
    select states.day, states.customer_id, states.mrr_cents
    from customer_states as states
    left join first_activation using (customer_id)
    where states.has_paying or (states.has_held and first_activation.first_activation_date <= states.day)
),

at_start as (
    select bounds.period_start, active.customer_id, active.mrr_cents
    from month_bounds as bounds
    inner join active_customers as active on active.day = bounds.start_snapshot
),

at_end as (
    select bounds.period_start, active.customer_id
    from month_bounds as bounds
    inner join active_customers as active on active.day = bounds.end_snapshot
)

select
    bounds.period_start,
    count(at_start.customer_id) as customers_start,
    count(at_start.customer_id) filter (where at_end.customer_id is null) as churned_from_start,
    coalesce(sum(at_start.mrr_cents), 0) as mrr_start
from month_bounds as bounds
left join at_start using (period_start)
left join at_end using (period_start, customer_id)
group by all
order by 1
"""


def month_bounds(days: list[date]) -> list[tuple[date, date, date]]:
    """Each month after the first snapshot: its start, and the loaded snapshots the floor
    reads for its start and end state (the latest on or before the boundary day)."""
    bounds = []
    month = date(days[0].year, days[0].month, 1)
    while month <= days[-1]:
        following = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
        if month > days[0]:
            start_day = month - timedelta(days=1)
            end_day = min(following - timedelta(days=1), days[-1])
            bounds.append(
                (
                    month,
                    max(d for d in days if d <= start_day),
                    max(d for d in days if d <= end_day),
                )
            )
        month = following
    return bounds


def main(files_list: Path, floor_json: Path) -> None:
    files = [line for line in files_list.read_text(encoding="utf-8").splitlines() if line]
    days = [date.fromisoformat(Path(file).name[:10]) for file in files]
    with tempfile.TemporaryDirectory() as folder:
        conn = duckdb.connect(str(Path(folder) / "change_rows.duckdb"))
        conn.execute("set threads = 2")
        conn.execute("set memory_limit = '3GB'")
        conn.execute(
            "create table loaded_dates as select day as snapshot_date, "
            "lead(day) over (order by day) as next_date from (select unnest($days) as day)",
            {"days": days},
        )
        conn.execute(
            "create table versions (snapshot_date date, source_row bigint, subscription_id "
            "varchar, customer_id varchar, status varchar, mrr double, currency varchar, plan "
            "varchar, started_at date, canceled_at date, ended_at date, cancel_reason varchar)"
        )
        conn.execute("create table gone (snapshot_date date, subscription_id varchar)")
        conn.execute(
            "create table last_state (snapshot_date date, subscription_id varchar, row_hash ubigint)"
        )
        seconds = dict.fromkeys(("read", "duplicate keys", "compare", "store"), 0.0)
        started = time.perf_counter()
        for first in range(0, len(files), CHUNK_DAYS):
            conn.execute(
                "set variable chunk_files = $files", {"files": files[first : first + CHUNK_DAYS]}
            )
            conn.execute(
                "set variable chunk_days = $days", {"days": days[first : first + CHUNK_DAYS]}
            )
            for step, statement in (
                ("read", CHUNK_ROWS),
                ("duplicate keys", DUPLICATE_KEYS),
                ("compare", CHUNK_CHANGES),
            ):
                step_start = time.perf_counter()
                conn.execute(statement).fetchall()
                seconds[step] += time.perf_counter() - step_start
            step_start = time.perf_counter()
            conn.execute(
                "insert into versions select rows.* exclude (row_hash) from chunk_rows as rows "
                "semi join chunk_changes as changes on changes.snapshot_date = rows.snapshot_date "
                "and changes.source_row = rows.source_row and not changes.is_gone"
            )
            conn.execute(
                "insert into gone select snapshot_date, subscription_id from chunk_changes where is_gone"
            )
            conn.execute("delete from last_state")
            conn.execute(
                "insert into last_state select snapshot_date, subscription_id, row_hash from chunk_rows "
                "where snapshot_date = (select max(snapshot_date) from chunk_rows)"
            )
            seconds["store"] += time.perf_counter() - step_start
        ingestion = time.perf_counter() - started
        counts = conn.execute(
            "select (select count(*) from versions), (select count(*) from gone)"
        ).fetchone()
        print(
            f"{len(files)} files into change rows: {ingestion:.1f} s "
            f"({', '.join(f'{step} {value:.1f}' for step, value in seconds.items())}); "
            f"{counts[0]:,} versions and {counts[1]:,} gone rows"  # type: ignore[index]
        )

        started = time.perf_counter()
        conn.execute(
            "create table month_bounds (period_start date, start_snapshot date, end_snapshot date)"
        )
        conn.executemany("insert into month_bounds values (?, ?, ?)", month_bounds(days))
        monthly = conn.execute(MONTHLY_NUMBERS).fetchall()
        print(f"monthly numbers from the change rows: {time.perf_counter() - started:.1f} s")
        conn.close()
    floor = {
        row["period_start"]: (row["customers_start"], row["churned_from_start"], row["mrr_start"])
        for row in json.loads(floor_json.read_text(encoding="utf-8"))["rows"]
    }
    differing = [row for row in monthly if floor.get(str(row[0])) != tuple(row[1:])]
    print(f"{len(monthly)} months, {len(differing)} differ from the floor: {differing[:3]}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
