"""Values across the SQL boundary: Unix seconds (NaN for "none") to and from ``timestamptz``, and
floats that may be NaN to nullable ``double precision``. The models and checks work in NumPy
floats with NaN for missing; psycopg wants datetimes and None."""

from __future__ import annotations

import math
from datetime import UTC, datetime


def utc(unix_s: float) -> datetime:
    return datetime.fromtimestamp(unix_s, UTC)


def utc_or_none(unix_s: float | None) -> datetime | None:
    """None for None or NaN (a time not set)."""
    return None if unix_s is None or not math.isfinite(unix_s) else utc(unix_s)


def unix_or_nan(moment: datetime | None) -> float:
    return math.nan if moment is None else moment.timestamp()


def unix_or_none(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def number_or_none(value: float) -> float | None:
    """A float for a nullable column: NaN and infinities become NULL."""
    return float(value) if math.isfinite(value) else None
