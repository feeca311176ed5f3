"""Dagster's SQLite event log, storing a batch of asset events in one transaction per database.

A backfill's ranged run reports one `ASSET_MATERIALIZATION_PLANNED` event per daily partition
when it is created and one `ASSET_MATERIALIZATION` per partition when its step ends. Dagster
hands such events over as a batch (when `DAGSTER_EVENT_BATCH_SIZE` is set), but its SQLite
storage stores a batch one event at a time, each in its own engine, connection and commit to
the run's database and again to the index database: about 10 ms per event, ~15 s of a
730-day backfill. This storage writes the same rows, in the same order, through one
transaction per database, and each asset key's index entry once per batch (the entry Dagster's
per-event overwrites leave). Every other event and every read is Dagster's own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from itertools import groupby
from typing import TYPE_CHECKING, Any

from dagster import DagsterInstance
from dagster._core.errors import DagsterInvariantViolationError
from dagster._core.events import ASSET_EVENTS
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine
from sqlalchemy.pool import QueuePool

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

# Events per batch: a ranged run over years of daily partitions is still one batch.
EVENT_BATCH_SIZE = "10000"
# Engines kept: the index database's and those of the runs being written.
ENGINES_KEPT = 8


def enable_event_batches(instance: DagsterInstance) -> None:
    """Let Dagster hand batchable events to this storage as batches (unless the user chose).

    Only for this storage: others treat batches their own way (PostgreSQL's drops
    `ASSET_FAILED_TO_MATERIALIZE` events from a batch).
    """
    if isinstance(instance.event_log_storage, BatchedSqliteEventLogStorage):
        os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", EVENT_BATCH_SIZE)


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` in the instance's own `history/runs` folder, Dagster's default.

    The folder is the instance's root directory, which a storage learns only when the instance
    registers it; so Dagster's initialisation (creating the folder and the index database)
    waits until then. An instance opened from `DAGSTER_HOME`, from a folder, from a run
    worker's instance reference or as `dagster dev`'s temporary instance each keeps its events
    where Dagster's own class would.
    """

    def __init__(self, inst_data: ConfigurableClassData | None = None) -> None:
        self._inst_data = inst_data
        self._registered_root: str | None = None
        self._obs = None  # what dispose() reads, should an instance never register it
        self._engines: dict[str, Engine] = {}

    @classmethod
    def config_type(cls) -> Mapping[str, Any]:
        return {}

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> BatchedSqliteEventLogStorage:
        return cls(inst_data=inst_data)

    def register_instance(self, instance: DagsterInstance) -> None:
        root = os.path.abspath(instance.root_directory)
        if self._registered_root is None:
            SqliteEventLogStorage.__init__(
                self, os.path.join(root, "history", "runs"), inst_data=self._inst_data
            )
            self._registered_root = root
        elif root != self._registered_root:
            raise DagsterInvariantViolationError(
                f"this event log storage belongs to the instance in {self._registered_root}, "
                f"not to the one in {root}"
            )
        super().register_instance(instance)

    def dispose(self) -> None:
        super().dispose()
        with self._db_lock if self._registered_root else nullcontext():
            while self._engines:
                self._engines.popitem()[1].dispose()

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # Dagster's own _connect, except that the engine of a database is kept (each event
        # otherwise built and disposed of an engine for every connection: ~0.3 s of a night's
        # run), and so is its connection: a night's run uses the index and its own database
        # ~320 times, and opening and closing a connection each time cost ~0.36 s of it. The
        # lock serialises every use, so one pooled connection serves every thread; it is
        # closed when its engine is let go (ENGINES_KEPT) or disposed of (dispose()).
        with self._db_lock:
            engine = self._engines.pop(shard, None) or create_engine(
                self.conn_string_for_shard(shard),
                poolclass=QueuePool,
                pool_size=1,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            self._engines[shard] = engine  # the most recently used last
            while len(self._engines) > ENGINES_KEPT:
                self._engines.pop(next(iter(self._engines))).dispose()
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        # A run's planned events mix asset and asset-check events (sorted by key); each stretch
        # of one run's asset events is written together, every other event as Dagster does.
        for (run_id, is_asset_event), stretch in groupby(events, key=_run_and_kind):
            batch = list(stretch)
            if is_asset_event and len(batch) > 1:
                self._store_asset_events(run_id, batch)
            else:
                for event in batch:
                    self.store_event(event)

    def _store_asset_events(self, run_id: str, events: Sequence[EventLogEntry]) -> None:
        """The statements store_event runs for each asset event, grouped by database.

        If the run's database fails, nothing of the stretch is written and the error goes up:
        Dagster then stores the batch one event at a time. Once the run's database has the
        stretch, an error must not go up (Dagster would store every event again); a failed
        index transaction is rolled back and the index rows are written event by event.
        """
        # the rows of Dagster's prepare_insert_event, inserted by one statement compiled once
        rows = [self._event_to_row(event) for event in events]
        with self.run_connection(run_id) as conn:
            conn.execute(SqlEventLogStorageTable.insert(), rows)
        try:
            with self.index_transaction() as conn:
                self._mirror_in_index(conn, events, rows)
        except Exception:
            for event, row in zip(events, rows, strict=True):
                with self.index_transaction() as conn:
                    self._mirror_in_index(conn, [event], [row])

    def _mirror_in_index(
        self, conn: Connection, events: Sequence[EventLogEntry], rows: Sequence[dict[str, Any]]
    ) -> None:
        event_ids: list[int] = []
        insert = SqlEventLogStorageTable.insert()
        for row in rows:
            event_id = conn.execute(insert, row).inserted_primary_key[0]
            if event_id is None:
                raise DagsterInvariantViolationError(
                    "Cannot store asset event tags for null event id."
                )
            event_ids.append(event_id)
        self._store_asset_event_tags(conn, events, event_ids)
        for event, event_id in _last_of_each_type_per_asset(events, event_ids):
            self._store_asset_event(conn, event, event_id)


def _last_of_each_type_per_asset(
    events: Sequence[EventLogEntry], event_ids: Sequence[int]
) -> list[tuple[EventLogEntry, int]]:
    """The events whose asset-key entries Dagster's one-by-one storage would leave standing.

    Each event overwrites its asset key's entry (`last_materialization`, `last_run_id`,
    `last_materialization_timestamp`) with values that depend on its type only; so a column
    ends with the value of the last event of a type that sets it. Writing the last event of
    each type per asset key, in their order, leaves the same entry: for a backfill's 730
    materializations of one asset, one write and one serialized record instead of 730.
    """
    last: dict[tuple[str, Any], int] = {}
    for index, event in enumerate(events):
        dagster_event = event.dagster_event
        if dagster_event is not None and dagster_event.asset_key is not None:
            last[(dagster_event.asset_key.to_string(), dagster_event.event_type)] = index
    return [(events[index], event_ids[index]) for index in sorted(last.values())]


def _run_and_kind(event: EventLogEntry) -> tuple[str, bool]:
    dagster_event = event.dagster_event
    is_asset_event = (
        dagster_event is not None
        and dagster_event.event_type in ASSET_EVENTS
        and dagster_event.asset_key is not None
    )
    return event.run_id, is_asset_event
