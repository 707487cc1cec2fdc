"""Reading recordings for replay: CSV and Parquet, and clear errors for bad ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simulators.replay import ReplayError, load


def test_csv_with_iso_times_becomes_a_dense_grid_in_time_order(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(
        "time,sensor,value\n"
        "2026-10-01T06:01:00+07:00,gauge-a/water_level,1.5\n"
        "2026-10-01T06:00:00+07:00,gauge-a/water_level,1.4\n"
        "2026-10-01T06:00:00+07:00,gauge-b/traffic_count.lane2,12\n"
    )
    recording = load(path)
    assert recording.devices == ["gauge-a", "gauge-b"]
    assert [s.name for s in recording.sensors] == ["water_level", "traffic_count.lane2"]
    assert recording.sensors[1].kind == "traffic_count" and recording.sensors[1].unit == "count"
    assert np.diff(recording.times).tolist() == [60.0]
    assert np.array_equal(recording.values, [[1.4, 1.5], [12.0, np.nan]], equal_nan=True)


def test_parquet_with_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "r.parquet"
    times = pa.array([1_790_000_000_000_000, 1_790_000_060_000_000], type=pa.timestamp("us", tz="UTC"))
    table = pa.table({"time": times, "sensor": ["rain-1/rainfall"] * 2, "value": [0.2, 1.4]})
    pq.write_table(table, path)
    recording = load(path)
    assert recording.times.tolist() == [1_790_000_000.0, 1_790_000_060.0]
    assert recording.values.tolist() == [[0.2, 1.4]]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("when,sensor,value\n", r"missing column\(s\) time"),
        ("time,sensor,value\n1790000000,gauge-a/water_level,high\n", "row 1: value 'high' is not a number"),
        ("time,sensor,value\n2026-10-01T06:00,gauge-a/water_level,1\n", "row 1: time '2026-10-01T06:00' needs a UTC"),
        ("time,sensor,value\nsoon,gauge-a/water_level,1\n", "row 1: time 'soon' is neither ISO 8601"),
        ("time,sensor,value\n1790000000,Gauge_A/water_level,1\n", "row 1: invalid device id 'Gauge_A'"),
    ],
)
def test_bad_recordings_are_refused_with_the_row_named(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ReplayError, match=message):
        load(path)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="no such file"):
        load(tmp_path / "nothing.csv")
