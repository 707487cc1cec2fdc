"""Replay a recorded series (time, sensor, value) through MQTT as the devices that measured it.

Accepts CSV (header ``time,sensor,value``) or Parquet with those columns. ``time`` is ISO 8601
with an offset or Unix seconds; ``sensor`` is ``device_id/kind[.channel]`` in the protocol's
names; ``value`` is in the kind's canonical unit. Rows need not be sorted.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge import protocol
from simulators.sites import SensorRef

COLUMNS = ("time", "sensor", "value")


class ReplayError(ValueError):
    """The recording cannot be replayed (missing file or column, bad row); the message says where."""


@dataclass(frozen=True)
class Recording:
    times: npt.NDArray[np.float64]  # (n_steps,) distinct Unix s, ascending
    sensors: list[SensorRef]
    values: npt.NDArray[np.float64]  # (n_sensors, n_steps), NaN where a sensor has no reading

    @property
    def devices(self) -> list[str]:
        return list(dict.fromkeys(s.device_id for s in self.sensors))


def _parse_time(text: object, where: str) -> float:
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    try:
        return float(str(text))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        raise ReplayError(f"{where}: time {text!r} is neither ISO 8601 nor Unix seconds") from None
    if moment.tzinfo is None:
        raise ReplayError(f"{where}: time {text!r} needs a UTC offset")
    return moment.timestamp()


def _rows(path: Path) -> tuple[list[object], list[object], list[object]]:
    if not path.is_file():
        raise ReplayError(f"{path}: no such file")
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq
        except ImportError as error:
            raise ReplayError("reading Parquet needs pyarrow: pip install 'urbanpulse[server]'") from error
        table = pq.read_table(path)
        missing = [c for c in COLUMNS if c not in table.column_names]
        if missing:
            raise ReplayError(f"{path}: missing column(s) {', '.join(missing)}")
        times = [t.timestamp() if isinstance(t, datetime) else t for t in table.column("time").to_pylist()]
        return times, table.column("sensor").to_pylist(), table.column("value").to_pylist()
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ReplayError(f"{path}: missing column(s) {', '.join(missing)}")
        rows = list(reader)
    return [r["time"] for r in rows], [r["sensor"] for r in rows], [r["value"] for r in rows]


def load(path: Path) -> Recording:
    raw_times, raw_sensors, raw_values = _rows(path)
    names: dict[str, int] = {}
    sensors: list[SensorRef] = []
    times = np.empty(len(raw_times))
    rows = np.empty(len(raw_times), dtype=np.int64)
    values = np.empty(len(raw_times))
    for i, (t, name, v) in enumerate(zip(raw_times, raw_sensors, raw_values, strict=True)):
        where = f"{path.name} row {i + 1}"
        times[i] = _parse_time(t, where)
        try:
            values[i] = float(v)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ReplayError(f"{where}: value {v!r} is not a number") from None
        key = str(name)
        if key not in names:
            device, _, local = key.partition("/")
            kind = protocol.kind_of(local)
            if not local or kind is None or kind not in protocol.METRIC_KINDS:
                raise ReplayError(f"{where}: sensor {key!r} is not device_id/kind[.channel]")
            try:
                protocol.readings_topic(device)
            except protocol.ProtocolError as error:
                raise ReplayError(f"{where}: {error}") from None
            names[key] = len(sensors)
            sensors.append(SensorRef(len(sensors), -1, device, local, kind, protocol.METRIC_KINDS[kind].unit))
        rows[i] = names[key]
    steps, column = np.unique(times, return_inverse=True)
    grid = np.full((len(sensors), len(steps)), np.nan)
    grid[rows, column] = values
    return Recording(steps, sensors, grid)
