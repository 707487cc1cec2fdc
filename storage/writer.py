"""Idempotent, fast writes of reading batches and quarantine rows in one transaction.

Redelivery is normal under at-least-once delivery, so a batch may contain rows the table
already has. Two ways to stay idempotent, both measured by ``bench/bench_ingest.py`` (its write-path section):

* ``merge``: binary COPY into a session temp table, then ``INSERT ... ON CONFLICT DO NOTHING``.
  Always correct, roughly half the speed of a plain COPY.
* ``copy``: binary COPY straight into ``readings`` inside a savepoint; on a unique-key
  violation the savepoint is rolled back and the batch goes the ``merge`` way.

``adaptive`` (the default) takes the ``copy`` path and, after a conflict, uses ``merge`` for
the next batches, because conflicts come in runs (a reconnect redelivers a whole backlog).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg import errors as pg_errors

from storage.pgcopy import encode_readings

_STAGE_DDL = "CREATE TEMP TABLE IF NOT EXISTS readings_stage (LIKE readings INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
_COPY_READINGS = "COPY {table} (sensor_id, time, value, qc) FROM STDIN (FORMAT BINARY)"
_MERGE = "INSERT INTO readings SELECT * FROM readings_stage ON CONFLICT (sensor_id, time) DO NOTHING"
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
class WriteResult:
    inserted: int
    duplicates: int
    path: WritePath


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
        """Store ``rows`` (duplicates ignored) and ``quarantine`` in the current transaction."""
        result = WriteResult(0, 0, self.path)
        if len(rows):
            result = self._write_readings(conn, rows)
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
        return result

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
            cur.execute("TRUNCATE readings_stage")
        return WriteResult(inserted, len(rows) - inserted, WritePath.MERGE)
