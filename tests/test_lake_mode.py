"""Lake storage mode (CHURN_STORAGE=lake): Parquet per snapshot date under CHURN_LAKE_PATH.

The tables it produces equal warehouse mode's on the same files, whatever order the dates
are written in; a half-written date stays invisible; the two modes never share a warehouse.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from churn_pipeline import lake, movements, warehouse
from churn_pipeline.assets.snapshot_checks import snapshot_checks
from churn_pipeline.demo_data import DemoSpec, write_demo_snapshots
from churn_pipeline.runs import RunFailedError, snapshot_window
from churn_pipeline.settings import Settings, SettingsError
from tests.conftest import Project, sub

VOLATILE_COLUMNS = {"computed_at", "ingested_at", "content_fingerprint"}


def lake_project(root: Path, instance: dg.DagsterInstance) -> Project:
    root.mkdir(parents=True, exist_ok=True)
    project = Project(root, instance)
    project.settings = replace(project.settings, storage="lake", lake_path=str(root / "lake"))
    return project


def warehouse_twin(lake_run: Project, root: Path) -> Project:
    """A warehouse-mode project reading the same landing folder."""
    root.mkdir(parents=True)
    twin = Project(root, lake_run.instance)
    twin.settings = replace(twin.settings, landing_dir=lake_run.landing)
    return twin


def rounded(value: Any) -> Any:
    # sums of doubles may differ in their last bits with the order DuckDB adds them in
    return (
        round(value, 9 - math.floor(math.log10(abs(value))))
        if isinstance(value, float) and value
        else value
    )


def every_table(project: Project) -> dict[str, list[tuple]]:
    """Every table and view of raw, core and reporting but the run log, sorted, with the
    columns that record when (not what) left out."""
    with duckdb.connect(str(project.settings.warehouse_path), read_only=True) as conn:
        names = conn.execute(
            "select schema_name || '.' || table_name from duckdb_tables() "
            "where schema_name in ('raw', 'core', 'reporting') and table_name <> 'pipeline_runs' "
            "union select schema_name || '.' || view_name from duckdb_views() "
            "where schema_name in ('raw', 'core', 'reporting') and not internal"
        ).fetchall()
        tables = {}
        for (name,) in names:
            if name.startswith("raw.lake_") or name in (
                "raw.subscription_customer_of_record",  # lake mode's own plumbing
                "raw.subscription_changes",  # warehouse mode's storage of the snapshots
                "core.schema_fingerprint",  # warehouse mode's record of its applied definitions
            ):
                continue
            # warehouse mode's snapshot rows name the file of their version, not of their date
            left_out = VOLATILE_COLUMNS | (
                {"source_file", "source_row"} if name == "raw.subscription_snapshots" else set()
            )
            columns = [
                column
                for (column,) in conn.execute(
                    f"select column_name from (describe {name})"
                ).fetchall()
                if column not in left_out
            ]
            rows = conn.execute(f"select {', '.join(columns)} from {name} order by all").fetchall()
            tables[name] = [tuple(rounded(v) for v in row) for row in rows]
    return tables


def test_lake_mode_equals_warehouse_mode_on_the_demo_data(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    in_lake = lake_project(tmp_path / "lake_mode", instance)
    write_demo_snapshots(in_lake.landing, DemoSpec())
    quarantine_rows_around_window_edges(in_lake.landing)
    in_warehouse = warehouse_twin(in_lake, tmp_path / "warehouse_mode")
    for project in (in_lake, in_warehouse):  # past-due spells read the lake too
        project.settings = replace(project.settings, past_due_grace_days=3)
    first, last = snapshot_window(in_lake.settings, None, None)
    assert (last - first).days > 2 * movements.WINDOW_DAYS  # windows read their dates only
    in_lake.run(first, last)
    in_warehouse.run(first, last)

    lake_tables, warehouse_tables = every_table(in_lake), every_table(in_warehouse)
    assert set(lake_tables) == set(warehouse_tables)
    assert len(lake_tables) >= 20
    for name, rows in warehouse_tables.items():
        assert lake_tables[name] == rows, name
    assert len(warehouse_tables["reporting.churn_by_period"]) > 500
    assert len(warehouse_tables["raw.rejected_rows"]) >= 20  # and carried forward alike
    # the lake holds every date once, in its own folder
    dates = list((tmp_path / "lake_mode" / "lake" / "snapshot_deliveries").glob("snapshot_date=*"))
    assert len(dates) == (last - first).days + 1 + 1  # and the empty schema folder


def quarantine_rows_around_window_edges(landing: Path) -> None:
    """An invalid MRR in three rows of the files on either side of each movement window's edge:
    their subscriptions keep their previous state over several days and across the edge."""
    files = sorted(landing.glob("*.csv"))
    for index, path in enumerate(files):
        if index == 0 or index % movements.WINDOW_DAYS not in (movements.WINDOW_DAYS - 1, 0, 1):
            continue
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns, rows = list(reader.fieldnames or []), list(reader)
        for row in rows[10:13]:
            row["mrr"] = "not a number"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)


def changing_customer_history(project: Project) -> None:
    """s1 moves from c1 to c2 on the 3rd (an export error: quarantined); s2 is first seen on
    the 4th naming c3, then c4 on the 5th."""
    project.write_csv("2025-03-01", [sub("s1", "c1"), sub("s3", "c9", mrr="30.00")])
    project.write_csv("2025-03-02", [sub("s1", "c1"), sub("s3", "c9", mrr="30.00")])
    project.write_csv("2025-03-03", [sub("s1", "c2", mrr="12.00"), sub("s3", "c9", mrr="30.00")])
    project.write_csv("2025-03-04", [sub("s1", "c1"), sub("s2", "c3", mrr="20.00")])
    project.write_csv("2025-03-05", [sub("s1", "c1"), sub("s2", "c4", mrr="20.00")])


@pytest.mark.parametrize(
    "lake_runs",
    [
        [("2025-03-01", "2025-03-05")],
        [("2025-03-04", "2025-03-05"), ("2025-03-01", "2025-03-03")],  # later dates first
        [("2025-03-05", "2025-03-05"), ("2025-03-03", "2025-03-04"), ("2025-03-01", "2025-03-02")],
    ],
    ids=["one_run", "later_dates_first", "three_runs_backwards"],
)
def test_the_history_rule_does_not_depend_on_the_order_dates_are_written_in(
    tmp_path: Path, instance: dg.DagsterInstance, lake_runs: list[tuple[str, str]]
) -> None:
    in_lake = lake_project(tmp_path / "lake_mode", instance)
    in_lake.settings = replace(in_lake.settings, quarantine_threshold=0.5)
    changing_customer_history(in_lake)
    for first, last in lake_runs:
        in_lake.run(first, last)
    in_lake.run("2025-03-05", "2025-03-05")  # a last run rebuilds the tables on the whole lake
    in_warehouse = warehouse_twin(in_lake, tmp_path / "warehouse_mode")
    in_warehouse.settings = replace(in_warehouse.settings, quarantine_threshold=0.5)
    in_warehouse.run("2025-03-01", "2025-03-05")

    rejected = in_lake.query(
        "select snapshot_date::varchar, subscription_id, column_name, value, rule from raw.rejected_rows "
        "order by 1, 2"
    )
    assert rejected == [
        ("2025-03-03", "s1", "customer_id", "c2", "subscription_changed_customer"),
        ("2025-03-05", "s2", "customer_id", "c4", "subscription_changed_customer"),
    ]
    deliveries = in_lake.query(
        "select snapshot_date::varchar, status, rows_read, rows_loaded, rows_rejected "
        "from raw.snapshot_deliveries order by 1"
    )
    # half of the 3rd and of the 5th quarantined: not over the 50% threshold
    assert deliveries == [
        ("2025-03-01", "loaded", 2, 2, 0),
        ("2025-03-02", "loaded", 2, 2, 0),
        ("2025-03-03", "loaded", 2, 1, 1),
        ("2025-03-04", "loaded", 2, 2, 0),
        ("2025-03-05", "loaded", 2, 1, 1),
    ]
    lake_tables, warehouse_tables = every_table(in_lake), every_table(in_warehouse)
    for name, rows in warehouse_tables.items():
        assert lake_tables[name] == rows, name


def test_the_history_rule_counts_towards_refusing_a_date(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    project = lake_project(tmp_path, instance)
    project.settings = replace(project.settings, quarantine_threshold=0.4)
    changing_customer_history(project)
    # the later dates first: alone, they make s1's customer of record c2 (its row of the 3rd),
    # so the 4th and 5th are refused and the check stops the run
    with pytest.raises(RunFailedError, match="quarantine_within_threshold"):
        project.run("2025-03-03", "2025-03-05")
    # the earlier dates arrive: c1 is s1's customer, the 3rd and the 5th are now the refused
    # ones; the check covers the run's own dates, which are fine (snapshot_gaps warns)
    project.run("2025-03-01", "2025-03-02")
    with lake.open_reader(project.settings) as conn:
        statuses = conn.execute(
            "select snapshot_date::varchar, status from raw.snapshot_deliveries order by 1"
        ).fetchall()
    assert statuses == [
        ("2025-03-01", "loaded"),
        ("2025-03-02", "loaded"),
        ("2025-03-03", "refused"),
        ("2025-03-04", "loaded"),
        ("2025-03-05", "refused"),
    ]


def test_a_date_written_half_way_stays_invisible_and_a_rerun_heals(
    tmp_path: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = lake_project(tmp_path, instance)
    project.write_csv("2025-03-01", [sub("s1", "c1"), sub("s2", "c2")])
    project.write_csv("2025-03-02", [sub("s1", "c1"), sub("s2", "c2")])
    project.run("2025-03-01", "2025-03-02")
    before = every_table(project)

    # a run killed after writing the 2nd's rows but before its delivery file (the commit)
    settings = project.settings
    with lake.loading_database(settings) as conn:
        conn.execute(
            "insert into raw.subscription_snapshots (snapshot_date, subscription_id, customer_id, "
            "status, status_raw, stops_involuntarily, mrr_cents, currency, source_file, source_row) "
            "values ('2025-03-02', 's9', 'c9', 'active', 'active', false, 100, 'USD', 'x.csv', 1)"
        )
        conn.execute("insert into lake_row_texts values ('2025-03-02', 'x.csv', 1, 'c9', '{}')")
        version = lake.new_version()
        target = lake.version_path(settings, "subscription_snapshots", date(2025, 3, 2), version)
        Path(target).parent.mkdir(parents=True)
        conn.sql(
            lake.layer_query(settings, "subscription_snapshots"),
            params={"day": date(2025, 3, 2)},
        ).write_parquet(target)
    project.run("2025-03-02", "2025-03-02")  # the tables are rebuilt: the stray version is unseen
    assert every_table(project) == before
    assert project.query(
        "select count(*) from raw.subscription_snapshots where customer_id = 'c9'"
    ) == [(0,)]
    # the re-run committed a newer version of the 2nd; the older ones stay while a reader may
    # still pin them, and go once the new version is SUPERSEDED_GRACE old
    folder = tmp_path / "lake" / "subscription_snapshots" / "snapshot_date=2025-03-02"
    assert len(list(folder.iterdir())) == 3
    monkeypatch.setattr(lake, "SUPERSEDED_GRACE", timedelta(0))
    assert lake.remove_superseded_versions(project.settings) == 2  # the first and the stray one
    versions = list(folder.iterdir())
    assert len(versions) == 1 and versions[0].name > f"version={version}"
    assert every_table(project) == before


def test_a_step_reads_the_versions_it_pinned_while_another_run_commits(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    project = lake_project(tmp_path, instance)
    project.write_csv("2025-03-01", [sub("s1", "c1"), sub("s2", "c2")])
    project.write_csv("2025-03-02", [sub("s1", "c1"), sub("s2", "c2")])
    project.run("2025-03-01", "2025-03-02")
    count = (
        "select (select count(*) from raw.subscription_snapshots), "
        "(select sum(rows_loaded) from raw.snapshot_deliveries)"
    )
    with lake.open_reader(project.settings) as pinned:
        assert pinned.execute(count).fetchone() == (4, 4)
        # a corrected file of the 2nd is committed meanwhile by another run
        project.write_csv("2025-03-02", [sub("s1", "c1"), sub("s2", "c2"), sub("s3", "c3")])
        project.run("2025-03-02", "2025-03-02")
        assert pinned.execute(count).fetchone() == (4, 4)  # still its own consistent lake
    with lake.open_reader(project.settings) as fresh:
        assert fresh.execute(count).fetchone() == (5, 5)
    assert project.query(count) == [(5, 5)]


def test_a_warehouse_file_keeps_its_storage_mode(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    project = Project(tmp_path, instance)
    project.write_csv("2025-03-01", [sub("s1", "c1")])
    project.run("2025-03-01", "2025-03-01")
    project.settings = replace(project.settings, storage="lake", lake_path=str(tmp_path / "lake"))
    with pytest.raises(
        RunFailedError, match="built in warehouse mode but CHURN_STORAGE=lake"
    ) as failed:
        project.run("2025-03-01", "2025-03-01")
    assert str(failed.value).startswith("step core__customer_movements failed: the warehouse ")


def test_the_raw_checks_look_at_the_runs_own_dates(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    """Parallel runs commit in any order: "the latest ingestion" may be another run's dates."""
    project = lake_project(tmp_path, instance)
    project.write_csv("2025-03-01", [sub("s1", "c1"), {"subscription_id": "s2", "status": "x"}])
    project.write_csv("2025-03-02", [sub("s1", "c1")])
    with pytest.raises(RunFailedError, match="quarantine_within_threshold"):
        project.run("2025-03-01", "2025-03-01")  # half its rows rejected: refused
    project.run("2025-03-02", "2025-03-02")  # committed later, by "another run"
    refused_check = next(c for c in snapshot_checks() if c.name == "quarantine_within_threshold")
    with lake.open_reader(project.settings) as conn:
        own_dates = {"window_start": date(2025, 3, 1), "window_end": date(2025, 3, 1)}
        assert not refused_check.evaluate(conn, project.settings, own_dates).passed
        unknown_run = {"window_start": None, "window_end": None}  # falls back to the latest
        assert refused_check.evaluate(conn, project.settings, unknown_run).passed


def test_an_unwritable_lake_fails_the_run_with_its_path(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    project = lake_project(tmp_path, instance)
    (tmp_path / "not_a_folder").write_text("a file where the lake should be")
    project.settings = replace(project.settings, lake_path=str(tmp_path / "not_a_folder" / "lake"))
    project.write_csv("2025-03-01", [sub("s1", "c1")])
    with pytest.raises(
        RunFailedError,
        match=r"step raw__subscription_snapshots failed: cannot write .*not_a_folder/lake/subscription_snapshots/.* \(CHURN_LAKE_PATH\)",
    ):
        project.run("2025-03-01", "2025-03-01")


def test_an_unknown_storage_mode_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="CHURN_STORAGE must be warehouse or lake, not 's3'"):
        Settings.from_env({"CHURN_STORAGE": "s3", "CHURN_LANDING_DIR": str(tmp_path)})


def test_in_memory_connections_spill_beside_the_warehouse_not_in_the_working_directory(
    tmp_path: Path,
) -> None:
    settings = Settings.from_env({"CHURN_WAREHOUSE": str(tmp_path / "new" / "warehouse.duckdb")})
    conn = warehouse.connect_memory(settings)
    try:
        spill = conn.execute("select current_setting('temp_directory')").fetchone()
    finally:
        conn.close()
    assert spill == (f"{settings.warehouse_path}.tmp",)
    assert settings.warehouse_path.parent.is_dir()  # DuckDB creates the folder, not its parent


def test_duckdb_estimates_a_lake_scan_from_a_date_with_rows_not_the_empty_schema_file(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    """An estimate of 0 rows made DuckDB hash the whole lake to probe a handful of rows."""
    project = lake_project(tmp_path, instance)
    for day in ("2025-03-01", "2025-03-02"):
        project.write_csv(day, [sub(f"s{i}", f"c{i}") for i in range(50)])
    project.run("2025-03-01", "2025-03-02")
    with lake.open_reader(project.settings) as conn:
        [(_, plan)] = conn.execute(
            "explain (format json) select * from raw.lake_subscription_snapshots"
        ).fetchall()
    [scan] = json.loads(plan)
    assert scan["extra_info"]["Function"] == "READ_PARQUET"
    assert int(scan["extra_info"]["Estimated Cardinality"]) >= 100


def test_a_lake_reader_out_of_memory_names_the_setting_to_raise(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    """The raw-layer checks read the lake from an in-memory database (lake.open_reader)."""
    project = lake_project(tmp_path, instance)
    project.write_csv("2025-03-01", [sub("s1", "c1")])
    project.run("2025-03-01", "2025-03-01")
    small = replace(project.settings, duckdb_memory_limit="16MB", duckdb_threads=1)
    refused = pytest.raises(
        warehouse.WarehouseMemoryError, match=r"CHURN_DUCKDB_MEMORY_LIMIT=16MB allows"
    )
    with refused, lake.open_reader(small) as conn:  # a list of ten million values cannot spill
        conn.execute("select len(list(range)) from range(10000000)").fetchall()
