"""Raw readings as CSV for open data (``time,value,qc``), written by PostgreSQL's own COPY."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import psycopg
from psycopg import sql

CSV_HEADER = "time,value,qc\n"


def readings_csv(conn: psycopg.Connection, sensor_id: int, start: datetime, end: datetime) -> Iterator[bytes]:
    """The CSV in chunks: COPY formats the rows in the server; fetched whole (the window is bounded by the
    caller), so the connection goes back to the pool before the answer is streamed."""
    chunks = [CSV_HEADER.encode()]
    query = (
        "COPY (SELECT api_time(time), value, qc FROM readings WHERE sensor_id = {} AND time >= {} AND time < {} "
        "ORDER BY time) TO STDOUT (FORMAT csv)"
    )
    with conn.cursor() as cur, cur.copy(sql.SQL(query).format(sensor_id, start, end)) as copy:
        chunks += [bytes(block) for block in copy]
    return iter(chunks)
