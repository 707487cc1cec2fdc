"""The forecast service's cycle for a city of sensors, street-flood outlook included.

    python bench/bench_outlook.py [--sites 4000] [--days 14] [--updates 6]

Simulates ``--sites`` sites of the virtual city (4,000 sites: 10,000+ sensors: water levels at
streets and canals, rain at every site, traffic) with ``--days`` of 5-minute history, registers
them as the demo does (streets with their drainage facts), and times what the service's cycles
compute after they have read the buckets, in the order the service meets them:

* the first cycle (a restart): the water-level and traffic models fitted
  (``forecasting.service.Forecaster``) and the street-flood outlook fitted
  (``forecasting.outlooks.street_outlook``);
* ``--updates`` ordinary cycles, five minutes apart: both updated and predicted;
* the cycle that refits the models (every ``refit_h``): the outlook only updated (its own due
  refit waits a cycle);
* the cycle after it, with the outlook's refit that waited.

Prints seconds per part and the share of the 5-minute budget.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge.protocol import Kind  # noqa: E402
from forecasting.outlooks import OutlookCache, rain_rates, street_outlook  # noqa: E402
from forecasting.series import Series  # noqa: E402
from forecasting.service import Forecaster, Sensors  # noqa: E402
from runtime.settings import ForecastSettings  # noqa: E402
from simulators.city import CityConfig, simulate  # noqa: E402
from simulators.scenarios import scenario_config  # noqa: E402
from simulators.sites import alarm_levels, city_sites, drainage_facts, grid_km  # noqa: E402

BUDGET_S = 300.0
STEP_S = 300.0


def _inputs(n_sites: int, days: float) -> tuple[Sensors, Series, np.ndarray, np.ndarray, int]:
    sites = city_sites(n_sites)
    storm = scenario_config("monsoon-storm", tuple(sites), step_s=STEP_S)
    end = storm.start + 8 * 3600.0  # 20:00 on the storm evening
    sim = simulate(CityConfig(tuple(sites), end - days * 86_400, days * 86_400 + STEP_S, STEP_S, 0,
                              storms=storm.storms))  # fmt: skip
    xy = grid_km(sites)
    site = [sites[s.site_index] for s in sim.sensors]
    kinds = np.array([s.kind for s in sim.sensors], dtype=np.str_)
    levels = np.array([alarm_levels(st).get(s.kind, np.nan) for s, st in zip(sim.sensors, site, strict=True)])
    keys = ("crown_m", "drain_mm_h", "river_km")
    facts = np.array([[drainage_facts(st).get(k, np.nan) for k in keys] if s.kind == Kind.WATER_LEVEL else [np.nan] * 3
                      for s, st in zip(sim.sensors, site, strict=True)])  # fmt: skip
    sensors = Sensors(np.arange(len(sim.sensors), dtype=np.int64), kinds, xy[[s.site_index for s in sim.sensors]],
                      levels)  # fmt: skip
    history = Series(float(sim.times[0]), STEP_S, sim.observed)
    rates = rain_rates(sim.observed, np.ones(sim.observed.shape, dtype=np.int64), STEP_S)  # one reading a bucket
    return sensors, history, rates, facts, int(round(3 * 3600 / STEP_S))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=4000)
    parser.add_argument("--days", type=float, default=14.0)
    parser.add_argument("--updates", type=int, default=6)
    args = parser.parse_args()
    began = time.perf_counter()
    sensors, history, rates, facts, horizon = _inputs(args.sites, args.days)
    streets = int((np.isfinite(facts[:, 0]) & (sensors.kinds == Kind.WATER_LEVEL)).sum())
    print(f"{len(sensors.ids)} sensors ({streets} streets, {int((sensors.kinds == 'rainfall').sum())} rain gauges), "
          f"{history.n_time} buckets of history; simulated in {time.perf_counter() - began:.1f} s")  # fmt: skip
    mine = np.ones(len(sensors.ids), dtype=np.bool_)
    settings = ForecastSettings(history_days=args.days)
    forecaster = Forecaster(sensors, mine, settings)
    cache = OutlookCache()
    first = history.n_time - args.updates - 2
    plan = ["restart: fit both"] + ["update"] * args.updates + ["models' refit", "outlook's refit"]
    for k, name in enumerate(plan):
        end = first + k
        window = Series(history.start, STEP_S, history.values[:, :end])
        t0 = time.perf_counter()
        if name in ("restart: fit both", "models' refit"):
            forecaster = Forecaster(sensors, mine, settings).fit(window)
        forecaster.issue(window, horizon)
        t1 = time.perf_counter()
        if name == "outlook's refit":
            cache.fitted_until = float("-inf")  # as when its six hours are up
        outlook = street_outlook(sensors.ids, sensors.kinds, sensors.xy_km, sensors.thresholds, facts, window,
                                 rates[:, :end], mine, horizon, cache, defer_refit=name == "models' refit")  # fmt: skip
        t2 = time.perf_counter()
        assert outlook is not None
        tiers = np.bincount(outlook.outlook.tier, minlength=3)
        print(f"{name:>18}: models {t1 - t0:6.1f} s, street-flood outlook {t2 - t1:6.1f} s, "
              f"together {t2 - t0:6.1f} s = {(t2 - t0) / BUDGET_S:4.0%} of the 5-minute budget "
              f"({tiers[1]} watches, {tiers[2]} warnings)", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
