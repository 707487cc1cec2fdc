"""PostgreSQL binary COPY encoding of reading rows, built with NumPy in one pass.

Writing rows one by one through a COPY writer costs Python work per row; a structured
array with the wire layout (big-endian, field counts and lengths inline) turns a whole
batch into one buffer. Layout: PostgreSQL docs, "COPY — Binary Format".
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_TRAILER = (-1).to_bytes(2, "big", signed=True)
PG_EPOCH_UNIX_S = 946_684_800  # 2000-01-01T00:00:00Z, the zero of PostgreSQL timestamps

# One readings row: (sensor_id int4, time timestamptz, value float8, qc int2).
_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("sensor_len", ">i4"),
        ("sensor_id", ">i4"),
        ("time_len", ">i4"),
        ("time_us", ">i8"),
        ("value_len", ">i4"),
        ("value", ">f8"),
        ("qc_len", ">i4"),
        ("qc", ">i2"),
    ]
)


def unix_seconds_to_pg_micros(seconds: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Unix seconds to PostgreSQL timestamp microseconds, rounded to the microsecond."""
    return np.rint((seconds - PG_EPOCH_UNIX_S) * 1e6).astype(np.int64)


def encode_readings(
    sensor_ids: npt.NDArray[np.int32],
    time_us: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    qc: npt.NDArray[np.int16],
) -> bytes:
    """A complete binary COPY stream for ``readings (sensor_id, time, value, qc)``; arrays of shape ``(n,)``."""
    rows = np.empty(len(sensor_ids), dtype=_ROW)
    rows["fields"] = 4
    rows["sensor_len"] = 4
    rows["sensor_id"] = sensor_ids
    rows["time_len"] = 8
    rows["time_us"] = time_us
    rows["value_len"] = 8
    rows["value"] = values
    rows["qc_len"] = 2
    rows["qc"] = qc
    return _HEADER + rows.tobytes() + _TRAILER
