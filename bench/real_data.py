"""Loaders for the real data sets the benchmarks read from ``../shared/data`` (never copied here).

Each returns the series on one regular grid with NaN for gaps. Timestamps the files give without
a zone are local: Oregon's are read as UTC with no offset (so profiles follow the local clock),
Dong Hoi's as UTC+7 (Vietnamese hydrological records keep local time; the files do not say).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from forecasting.series import Series

HOUR = 3600.0
VIETNAM_OFFSET_S = 7 * HOUR


@dataclass(frozen=True)
class WaterWithRain:
    water: Series  # (1, T) level, metres
    rain: Series  # (3, T) hourly rain, mm (NaN: not recorded)
    gauges: tuple[str, ...]


def _grid(times: np.ndarray, values: np.ndarray, rows: np.ndarray, n_rows: int, step: float) -> Series:
    start = float(times.min())
    grid = np.full((n_rows, int(round((times.max() - start) / step)) + 1), np.nan)
    grid[rows, np.round((times - start) / step).astype(int)] = values
    return Series(start, step, grid)


def oregon_counts(data: Path) -> Series:
    """22 detectors' vehicle counts per 15 minutes (Oregon, 26 days)."""
    import pyarrow.parquet as pq

    table = pq.read_table(data / "traffic-counts-oregon" / "sample_counts.parquet").to_pydict()
    times = np.array([t.replace(tzinfo=UTC).timestamp() for t in table["timestamp"]])
    detectors, row = np.unique(np.array(table["detector"]), return_inverse=True)
    return _grid(times, np.asarray(table["total"], dtype=np.float64), row, len(detectors), 900.0)


def mayport_2017(data: Path) -> Series:
    """NOAA 8720218 (Mayport Bar Pilots Dock), hourly water height in metres, 2017."""
    with (data / "tide-mayport" / "8720218.csv").open() as f:
        rows = list(csv.reader(f))[1:]
    times = np.array([datetime.strptime(f"{r[0]} +0000", "%Y-%m-%d %H:%M:%S %z").timestamp() for r in rows])
    return _grid(times, np.array([float(r[1]) for r in rows]), np.zeros(len(rows), int), 1, HOUR)


def dong_hoi(data: Path, year: int) -> WaterWithRain:
    """Dong Hoi hourly water level (m) and the three rain gauges (Kien Giang, Le Thuy, Dong Hoi)."""
    import pandas as pd

    book = data / "water-rain-donghoi" / f"XQHh_Nhatle_{year}.xlsx"
    if year == 2010:
        level = pd.read_excel(book, "Hh_Donghoi", header=0)
        level_times, level_m = pd.to_datetime(level.iloc[:, 0]), level.iloc[:, 5].to_numpy(float) / 100.0
        rain = pd.read_excel(book, "Xh_Oct2Dec_2010", header=None, skiprows=2).iloc[:, :4]
    elif year == 2012:
        level = pd.read_excel(book, "QHh_2012", header=None, skiprows=2)
        level_times = pd.to_datetime(level.iloc[:, 0].astype(str), format="%Y-%m-%d %H")
        level_m = level.iloc[:, 4].to_numpy(float) / 100.0
        rain = pd.read_excel(book, "Xh_2012", header=None, skiprows=2).iloc[:, [0, 5, 6, 7]]
    else:
        raise ValueError(f"Dong Hoi: 2010 or 2012, not {year}")
    rain = rain.dropna(subset=[rain.columns[0]])

    def unix(stamps: pd.Series) -> np.ndarray:
        naive = stamps.to_numpy(dtype="datetime64[s]").astype(np.int64).astype(np.float64)
        return naive - VIETNAM_OFFSET_S

    water = _grid(unix(level_times), level_m, np.zeros(len(level_m), int), 1, HOUR)
    rain_times = unix(pd.to_datetime(rain.iloc[:, 0]))
    on_grid = np.round((rain_times - water.start) / HOUR).astype(int)
    inside = (on_grid >= 0) & (on_grid < water.n_time)
    gauges = np.full((3, water.n_time), np.nan)  # not in the sheet: not recorded (February 2012, Jan-Sep 2010)
    gauges[:, on_grid[inside]] = rain.iloc[:, 1:4].to_numpy(float)[inside].T
    return WaterWithRain(water, Series(water.start, HOUR, gauges), ("Kien Giang", "Le Thuy", "Dong Hoi"))
