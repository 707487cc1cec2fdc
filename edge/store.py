"""The device's durable store-and-forward queue: SQLite in WAL mode, standard library only.

Every reading is committed here *before* it is published and deleted only when the broker
acknowledged its message successfully, so a link outage, a crash (kill -9) or a reboot loses
nothing that was stored. Durability trade-off (document it to operators):

* ``durability="normal"`` (default): WAL with ``synchronous=NORMAL``. Survives any process
  crash; a power cut may lose the last few commits. Spares the SD card: one fsync per
  checkpoint, not per commit.
* ``durability="full"``: ``synchronous=FULL``, an fsync per commit. Survives power loss too, at
  the cost of SD-card wear; keep commits batched (one per sampling round) either way.

A disk budget (``max_readings``) bounds the queue during long outages: the oldest readings
are evicted first, and every eviction is counted (persisted across restarts), logged and
reported in the heartbeat — never silent.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from edge.protocol import Reading

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    sensor TEXT NOT NULL,
    time   REAL NOT NULL,
    value  REAL NOT NULL,
    unit   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_time ON queue (time, id);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters VALUES ('evicted', 0);
"""
_SYNCHRONOUS = {"normal": "NORMAL", "full": "FULL"}


@dataclass(frozen=True)
class QueuedReading:
    id: int
    reading: Reading


@dataclass(frozen=True)
class StoreStats:
    depth: int
    oldest_time: float | None  # seconds since the epoch, None when empty
    evicted_total: int


class ReadingStore:
    def __init__(self, path: Path, max_readings: int = 2_000_000, durability: str = "normal") -> None:
        if durability not in _SYNCHRONOUS:
            raise ValueError(f"durability must be one of {sorted(_SYNCHRONOUS)}, got {durability!r}")
        if max_readings < 1:
            raise ValueError("max_readings must be at least 1")
        self.path = path
        self.max_readings = max_readings
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={_SYNCHRONOUS[durability]}")
        self._db.executescript(_SCHEMA)
        self._depth = self._count()

    def _count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM queue").fetchone()[0])

    def append(self, readings: Sequence[Reading]) -> int:
        """Store ``readings`` in one transaction; returns how many old readings were evicted for room."""
        if not readings:
            return 0
        with self._transaction():
            self._db.executemany(
                "INSERT INTO queue (sensor, time, value, unit) VALUES (?, ?, ?, ?)",
                [(r.sensor, r.time, r.value, r.unit) for r in readings],
            )
            self._depth += len(readings)
            excess = self._depth - self.max_readings
            if excess > 0:
                self._db.execute(
                    "DELETE FROM queue WHERE id IN (SELECT id FROM queue ORDER BY time, id LIMIT ?)", (excess,)
                )
                self._db.execute("UPDATE counters SET value = value + ? WHERE name = 'evicted'", (excess,))
                self._depth -= excess
        if excess > 0:
            log.warning("disk budget of %d readings reached: evicted the %d oldest", self.max_readings, excess)
        return max(excess, 0)

    def oldest(self, limit: int, skip: Iterable[int] = ()) -> list[QueuedReading]:
        """Up to ``limit`` queued readings in time order, leaving out the ids in ``skip`` (in flight)."""
        skipped = set(skip)
        rows = self._db.execute(
            "SELECT id, sensor, time, value, unit FROM queue ORDER BY time, id LIMIT ?", (limit + len(skipped),)
        ).fetchall()
        found = [QueuedReading(i, Reading(s, t, v, u)) for i, s, t, v, u in rows if i not in skipped]
        return found[:limit]

    def remove(self, ids: Sequence[int]) -> None:
        """Forget readings the broker has acknowledged (ids already gone are ignored)."""
        if not ids:
            return
        with self._transaction():
            cur = self._db.executemany("DELETE FROM queue WHERE id = ?", [(i,) for i in ids])
            self._depth -= max(cur.rowcount, 0)

    def stats(self) -> StoreStats:
        oldest = self._db.execute("SELECT min(time) FROM queue").fetchone()[0]
        evicted = self._db.execute("SELECT value FROM counters WHERE name = 'evicted'").fetchone()[0]
        return StoreStats(self._depth, oldest, int(evicted))

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error (sqlite3's own handling is implicit)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, _value: object, _tb: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")
