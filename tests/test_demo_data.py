"""The demo generator: deterministic for a seed, and every behaviour the issue lists is present."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from churn_pipeline.demo_data import DemoSpec, write_demo_snapshots
from churn_pipeline.reasons import fold

SPEC = DemoSpec(customers=1500, days=366)


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(path.relative_to(folder).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    folder = tmp_path_factory.mktemp("demo")
    write_demo_snapshots(folder, SPEC)
    conn = duckdb.connect()
    conn.execute(
        "create table snapshots as select *, cast(regexp_extract(filename, '(\\d{4}-\\d{2}-\\d{2})', 1) as date) as day "
        "from read_csv($glob, all_varchar = true, filename = true)",
        {"glob": str(folder / "*.csv")},
    )
    return conn


def test_same_seed_same_files_other_seed_other_files(tmp_path: Path) -> None:
    small = DemoSpec(customers=80, days=40)
    write_demo_snapshots(tmp_path / "a", small)
    write_demo_snapshots(tmp_path / "b", small)
    write_demo_snapshots(tmp_path / "c", DemoSpec(customers=80, days=40, seed=7))
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_parquet_and_hive_outputs(tmp_path: Path) -> None:
    small = DemoSpec(customers=50, days=10)
    flat = write_demo_snapshots(tmp_path / "flat", small, "parquet")
    hive = write_demo_snapshots(tmp_path / "hive", small, "hive")
    assert flat[0].name == "2024-01-01.parquet"
    assert hive[0].as_posix().endswith("snapshot_date=2024-01-01/part-0.parquet")
    described = duckdb.execute(
        "describe select * from read_parquet($path)", {"path": str(flat[0])}
    ).fetchall()
    types = {row[0]: row[1] for row in described}
    assert types["mrr"] == "DOUBLE" and types["started_at"] == "DATE"


def count(conn: duckdb.DuckDBPyConnection, where: str) -> int:
    row = conn.execute(f"select count(*) from snapshots where {where}").fetchone()
    return int(row[0]) if row else 0


def test_some_days_are_missing(demo: duckdb.DuckDBPyConnection) -> None:
    present = demo.execute("select count(distinct day) from snapshots").fetchone()
    assert present is not None and 0 < SPEC.days - present[0] <= 5


@pytest.mark.parametrize(
    "where",
    [
        "status = 'trialing'",
        "status = 'past_due'",
        "status = 'paused'",
        "status = 'unpaid'",
        "status = 'incomplete_expired'",
        "status = 'active' and canceled_at is not null",  # scheduled cancellation
        "plan = 'addon'",
        "cancel_reason in ('too_expensive', 'unused', 'switched_service')",
        "cancel_reason = 'Trop cher'",
        "cancel_reason = 'Zu teuer'",
        "cancel_reason = 'Za drogo'",
        "status = 'canceled' and cancel_reason is null",
        "mrr = '24.17'",  # an annual plan normalised to a month
    ],
)
def test_every_behaviour_is_present(demo: duckdb.DuckDBPyConnection, where: str) -> None:
    assert count(demo, where) > 0, where


def test_customers_hold_several_subscriptions(demo: duckdb.DuckDBPyConnection) -> None:
    assert count(demo, "true group by day, customer_id having count(*) > 1") > 0


def test_plan_changes_pauses_resumes_and_recoveries(demo: duckdb.DuckDBPyConnection) -> None:
    changes = demo.execute(
        """
        with ordered as (
            select subscription_id, day, status, cast(mrr as double) as mrr,
                   lag(status) over w as previous_status, lag(cast(mrr as double)) over w as previous_mrr
            from snapshots window w as (partition by subscription_id order by day)
        )
        select
            count(*) filter (where status = 'active' and previous_status = 'active' and mrr > previous_mrr),
            count(*) filter (where status = 'active' and previous_status = 'active' and mrr < previous_mrr),
            count(*) filter (where status = 'active' and previous_status = 'paused'),
            count(*) filter (where status = 'active' and previous_status = 'past_due'),
            count(*) filter (where status in ('canceled', 'unpaid') and previous_status = 'past_due')
        from ordered
        """
    ).fetchone()
    assert changes is not None and all(n > 0 for n in changes), changes


def test_reactivations_and_seasonality(demo: duckdb.DuckDBPyConnection) -> None:
    # a customer who comes back holds a second, later subscription after its first ended
    returning = demo.execute(
        "select count(distinct customer_id) from snapshots where plan <> 'addon' "
        "group by customer_id having count(distinct subscription_id) filter (where plan <> 'addon') > 1"
    ).fetchall()
    assert returning
    # voluntary cancellations per active subscription-day: January's hazard is twice April's
    rate = dict(
        demo.execute(
            """
            select month(day),
                   count(*) filter (where status = 'canceled' and ended_at = cast(day as varchar)
                                    and cancel_reason not in ('payment_failed', 'card declined'))
                   / count(*) filter (where status = 'active')
            from snapshots group by 1
            """
        ).fetchall()
    )
    assert rate[1] > 1.3 * rate[4]


def test_free_text_reasons_in_four_languages(demo: duckdb.DuckDBPyConnection) -> None:
    texts = {
        fold(r[0])
        for r in demo.execute(
            "select distinct cancel_reason from snapshots where cancel_reason is not null"
        ).fetchall()
    }
    assert {"trop cher", "zu teuer", "za drogo", "too expensive for our budget"} <= texts
