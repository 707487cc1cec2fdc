"""Loaders for the real data sets in tests/data, shared by the tests and the benchmarks."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from forecasting.series import Series

DATA = Path(__file__).resolve().parents[1] / "data"
OREGON_STEP_S = 900.0


def oregon_counts() -> Series:
    """22 detectors' vehicle counts per 15 minutes (Oregon, 26 days), on one grid with NaN gaps.

    Timestamps are local and naive: read as UTC with no offset, so profile slots follow the local clock.
    """
    table = pq.read_table(DATA / "oregon_counts.parquet").to_pydict()
    times = np.array([t.replace(tzinfo=UTC).timestamp() for t in table["timestamp"]])
    detectors, row = np.unique(np.array(table["detector"]), return_inverse=True)
    start = float(times.min())
    grid = np.full((len(detectors), int((times.max() - start) // OREGON_STEP_S) + 1), np.nan)
    grid[row, ((times - start) // OREGON_STEP_S).astype(int)] = table["total"]
    return Series(start, OREGON_STEP_S, grid)
