"""Write a simulated history straight into the database (no broker): weeks of the city in seconds.

The forecast models need history - two weeks for the traffic day-type profile, about three for
the tides and the rain response - which the demo would otherwise need weeks of wall time to
publish. Used by ``urbanpulse demo`` (the weeks before the replayed day) and by tests. The
devices must already be registered; the sensors are registered here as the ingestor would.
"""

from __future__ import annotations

import numpy as np
import psycopg

from simulators.city import Simulation
from storage import latest, registry
from storage.pgcopy import unix_seconds_to_pg_micros
from storage.writer import ReadingRows, ReadingWriter

QC_PASS = 1
ROWS_PER_BATCH = 500_000


def write_history(
    conn: psycopg.Connection, sim: Simulation, until: float | None = None, since: float | None = None
) -> int:
    """Store ``sim``'s observed readings in ``[since, until)`` (Unix s) as the ingestor would; returns rows written.

    Idempotent: readings already stored are skipped.
    """
    ids = registry.register_sensors(conn, [(s.device_id, s.name) for s in sim.sensors])
    sensor_ids = np.array([ids[(s.device_id, s.name)] for s in sim.sensors], dtype=np.int32)
    inside = np.ones(len(sim.times), dtype=np.bool_)
    if until is not None:
        inside &= sim.times < until
    if since is not None:
        inside &= sim.times >= since
    columns = np.flatnonzero(inside)
    values = sim.observed[:, columns]
    rows, cols = np.nonzero(np.isfinite(values))
    writer = ReadingWriter()
    writer.prepare(conn)
    written = 0
    for lo in range(0, len(rows), ROWS_PER_BATCH):
        r, c = rows[lo : lo + ROWS_PER_BATCH], cols[lo : lo + ROWS_PER_BATCH]
        batch = ReadingRows(
            sensor_ids[r],
            unix_seconds_to_pg_micros(sim.times[columns][c]),
            values[r, c].astype(np.float64),
            np.full(len(r), QC_PASS, dtype=np.int16),
        )
        written += writer.write(conn, batch, []).inserted
        latest.write_latest(conn, batch)
        conn.commit()
    return written
