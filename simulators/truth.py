"""The ground truth file: what really happened, for scoring forecasts and alerts.

One ``.npz`` (NumPy's zip of arrays, no extra dependency) holding

* ``times`` (n_steps,) Unix s; ``sensors`` (n_sensors,) ``device/kind`` names;
* ``truth`` - what healthy sensors would have reported; ``observed`` - after the value faults
  (NaN: no reading taken); ``delivered`` - what reached the broker as valid readings (NaN for
  readings lost in malformed messages); ``time_offset_s`` - clock skew added to each reported time;
* ``meta`` - JSON: scenario, seed, step, the sites (with coordinates, ward, district), flood,
  high-water and congestion events (start, peak, end), storm cells, incidents and the injected
  faults exactly as configured.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from simulators.events import Event
from simulators.faults import Fault, FaultKind


@dataclass(frozen=True)
class GroundTruth:
    times: npt.NDArray[np.float64]
    sensors: list[str]
    truth: npt.NDArray[np.float64]
    observed: npt.NDArray[np.float64]
    delivered: npt.NDArray[np.float64]
    time_offset_s: npt.NDArray[np.float64]
    events: list[Event]
    faults: list[Fault]
    meta: dict[str, Any]  # scenario, seed, step_s, sites, cells, incidents

    def row(self, sensor: str) -> int:
        return self.sensors.index(sensor)

    def save(self, path: Path) -> Path:
        meta = {
            **self.meta,
            "events": [dataclasses.asdict(e) for e in self.events],
            "faults": [dataclasses.asdict(f) for f in self.faults],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:  # a file object keeps numpy from appending ".npz" to the name
            np.savez_compressed(
                out,
                times=self.times,
                sensors=np.array(self.sensors),
                truth=self.truth.astype(np.float32),
                observed=self.observed.astype(np.float32),
                delivered=self.delivered.astype(np.float32),
                time_offset_s=self.time_offset_s.astype(np.float32),
                meta=np.array(json.dumps(meta, ensure_ascii=False)),
            )
        return path

    @classmethod
    def load(cls, path: Path) -> GroundTruth:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            arrays = {k: data[k].astype(np.float64) for k in ("truth", "observed", "delivered", "time_offset_s")}
            times, sensors = data["times"], [str(s) for s in data["sensors"]]
        events = [Event(**e) for e in meta.pop("events")]
        faults = [Fault(**{**f, "kind": FaultKind(f["kind"])}) for f in meta.pop("faults")]
        return cls(times, sensors, events=events, faults=faults, meta=meta, **arrays)
