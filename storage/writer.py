"""Idempotent, fast writes of reading batches and quarantine rows in one transaction.

Redelivery is normal under at-least-once delivery, so a batch may contain rows the table
already has. Two ways to stay idempotent, both measured by ``bench/bench_ingest.py`` (its write-path section):

* ``merge``: binary COPY into a session temp table, then ``INSERT ... ON CONFLICT DO NOTHING``.
  Always correct, roughly half the speed of a plain COPY.
* ``copy``: binary COPY straight into ``readings`` inside a savepoint; on a unique-key
  violation the savepoint is rolled back and the batch goes the ``merge`` way.

``adaptive`` (the default) takes the ``copy`` path and, after a conflict, uses ``merge`` for
the next batches, because conflicts come in runs (a reconnect redelivers a whole backlog).

A row the table already holds with the *same* value is a harmless copy; with a different value
it is a conflict, which the merge path reports (``WriteResult.conflicts``) for the caller to
quarantine in the same transaction: the first value stays, the other is kept with its reason.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg import errors as pg_errors

from storage.pgcopy import encode_readings

_STAGE_DDL = "CREATE TEMP TABLE IF NOT EXISTS readings_stage (LIKE readings INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
_COPY_READINGS = "COPY {table} (sensor_id, time, value, qc) FROM STDIN (FORMAT BINARY)"
_MERGE = "INSERT INTO readings SELECT * FROM readings_stage ON CONFLICT (sensor_id, time) DO NOTHING"
# Run after _MERGE as its own statement: it then also sees rows another ingestor committed while
# our INSERT waited on them (READ COMMITTED takes a snapshot per statement).
_CONFLICTS = (
    "SELECT s.sensor_id, s.time, r.value FROM readings_stage s JOIN readings r USING (sensor_id, time) "
    "WHERE r.value <> s.value"
)
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_COPY_QUARANTINE = (
    "COPY quarantine (received_at, topic, device_id, reason, detail, payload, payload_bytes, record_scope) FROM STDIN"
)


class WritePath(enum.StrEnum):
    ADAPTIVE = "adaptive"
    COPY = "copy"
    MERGE = "merge"


@dataclass(frozen=True)
class ReadingRows:
    """Rows for ``readings``, parallel arrays of shape ``(n,)``; time in PostgreSQL microseconds."""

    sensor_ids: npt.NDArray[np.int32]
    time_us: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    qc: npt.NDArray[np.int16]

    def __len__(self) -> int:
        return len(self.sensor_ids)

    def take(self, which: npt.NDArray[np.intp] | npt.NDArray[np.bool_]) -> ReadingRows:
        """The rows at ``which`` (indices or a mask), every column alike."""
        return ReadingRows(self.sensor_ids[which], self.time_us[which], self.values[which], self.qc[which])

    def without(self, rows: Iterable[int]) -> ReadingRows:
        """All rows but those numbered in ``rows``."""
        keep = np.ones(len(self), dtype=bool)
        keep[list(rows)] = False
        return self.take(keep)


@dataclass(frozen=True)
class QuarantineRow:
    received_at: datetime
    topic: str
    device_id: str | None
    reason: str
    detail: str
    payload: bytes  # already truncated to the configured bound
    payload_bytes: int  # size before truncation
    record_scope: bool


@dataclass(frozen=True)
class Conflict:
    """Row ``row`` of the batch found its (sensor, time) stored with ``stored_value``."""

    row: int
    stored_value: float


@dataclass(frozen=True)
class WriteResult:
    inserted: int
    duplicates: int  # already stored with the same value
    path: WritePath
    conflicts: tuple[Conflict, ...] = ()


class ReadingWriter:
    """Writes within the caller's transaction; holds only the adaptive path's memory."""

    def __init__(self, path: WritePath = WritePath.ADAPTIVE, merge_batches_after_conflict: int = 32) -> None:
        self.path = path
        self._merge_batches_after_conflict = merge_batches_after_conflict
        self._merge_left = 0

    def prepare(self, conn: psycopg.Connection) -> None:
        """Per-connection set-up: the staging table used by the merge path."""
        conn.execute(_STAGE_DDL)

    def write(self, conn: psycopg.Connection, rows: ReadingRows, quarantine: list[QuarantineRow]) -> WriteResult:
        """Store ``rows`` (copies ignored, conflicts reported) and ``quarantine`` in the current transaction."""
        result = self.write_readings(conn, rows)
        self.write_quarantine(conn, quarantine)
        return result

    def write_readings(self, conn: psycopg.Connection, rows: ReadingRows) -> WriteResult:
        """Store ``rows`` in the current transaction; rows already stored are copies or conflicts."""
        return self._write_readings(conn, rows) if len(rows) else WriteResult(0, 0, self.path)

    def write_quarantine(self, conn: psycopg.Connection, quarantine: list[QuarantineRow]) -> None:
        if quarantine:
            with conn.cursor() as cur, cur.copy(_COPY_QUARANTINE) as copy:
                for q in quarantine:
                    copy.write_row(
                        (
                            q.received_at,
                            q.topic,
                            q.device_id,
                            q.reason,
                            q.detail,
                            q.payload,
                            q.payload_bytes,
                            q.record_scope,
                        )
                    )

    def _write_readings(self, conn: psycopg.Connection, rows: ReadingRows) -> WriteResult:
        buffer = encode_readings(rows.sensor_ids, rows.time_us, rows.values, rows.qc)
        try_copy = self.path == WritePath.COPY or (self.path == WritePath.ADAPTIVE and self._merge_left == 0)
        if try_copy:
            try:
                with (
                    conn.transaction(),
                    conn.cursor() as cur,
                    cur.copy(_COPY_READINGS.format(table="readings")) as copy,
                ):
                    copy.write(buffer)
                return WriteResult(len(rows), 0, WritePath.COPY)
            except pg_errors.UniqueViolation:
                self._merge_left = self._merge_batches_after_conflict
        else:
            self._merge_left = max(0, self._merge_left - 1)
        with conn.cursor() as cur:
            with cur.copy(_COPY_READINGS.format(table="readings_stage")) as copy:
                copy.write(buffer)
            cur.execute(_MERGE)
            inserted = max(cur.rowcount, 0)
            conflicts = _conflicts(cur, rows) if inserted < len(rows) else ()
            cur.execute("TRUNCATE readings_stage")
        return WriteResult(inserted, len(rows) - inserted - len(conflicts), WritePath.MERGE, conflicts)


def _conflicts(cur: psycopg.Cursor[tuple[int, datetime, float]], rows: ReadingRows) -> tuple[Conflict, ...]:
    found = cur.execute(_CONFLICTS).fetchall()
    if not found:
        return ()
    position = {key: i for i, key in enumerate(zip(rows.sensor_ids.tolist(), rows.time_us.tolist(), strict=True))}
    micro = timedelta(microseconds=1)
    return tuple(Conflict(position[(sensor, (time - _PG_EPOCH) // micro)], value) for sensor, time, value in found)
