"""The rain nowcast from a gauge network: motion, rain paths ahead, and the baselines it is scored against."""

from __future__ import annotations

import numpy as np
import pytest

from forecasting.metrics import contingency
from forecasting.nowcast import RainNowcast, candidate_velocities
from forecasting.raingrid import Grid, point_rain, rain_map
from forecasting.series import Series
from simulators import rain

STEP = 300.0
START = 1_788_000_000.0
GAUGES = np.array([(x, y) for x in np.arange(-16.0, 17.0, 4.0) for y in np.arange(-12.0, 13.0, 4.0)])


def _storm_rates(velocity: tuple[float, float], hours: float = 30.0, storms_every_h: float = 6.0) -> Series:
    """Gauge rates (mm/h) of cells with ``velocity`` that peak every few hours 8 km upwind of the
    network's centre (the last one at 27 h), then cross it."""
    times = START + STEP * np.arange(int(hours * 3600 / STEP), dtype=np.float64)
    heading = np.array(velocity) / np.hypot(*velocity)
    cells = []
    for k, peak in enumerate(np.arange(3.0, hours, storms_every_h)):
        x, y = -8.0 * heading + (k % 3 - 1) * 2.0
        cells.append(rain.StormCell(START + peak * 3600, 4 * 3600.0, 70.0, float(x), float(y), 4.5, *velocity,
                                    growth_s=900.0))  # fmt: skip
    return Series(START, STEP, rain.intensity(cells, times, GAUGES))


def test_the_motion_of_a_storm_crossing_the_network_is_found_and_rain_is_forecast_downwind() -> None:
    velocity = (-20.0, 0.0)  # km/h: moving west
    history = _storm_rates(velocity)
    targets = np.array([[-12.0, 0.0], [0.0, -12.0]])  # downwind on the storm's track; off to the side
    nowcast = RainNowcast(GAUGES, targets).fit(Series(history.start, STEP, history.values[:, :216]), horizon=12)
    # The last storm peaks 8 km east of the centre at 27 h; it reaches the downwind street within the hour.
    origin = int(27 * 3600 / STEP) + 1
    ensemble = nowcast.update(Series(history.start, STEP, history.values[:, :origin])).predict(12)
    assert np.hypot(*(ensemble.motion[0] - velocity)) <= 6.0
    truth = point_rain(history.values[:, origin : origin + 12], GAUGES, targets)
    p = ensemble.exceedance(10.0)
    heavy_downwind = np.flatnonzero(truth[0] > 10.0)
    assert len(heavy_downwind) and p[0, heavy_downwind].mean() >= 0.5  # rain that has not reached it yet
    assert p[1].max() < 0.3  # nothing comes to the side street
    assert ensemble.rates.shape == (2, nowcast.members, 12) and (ensemble.rates >= 0).all()


def test_the_nowcast_beats_eulerian_persistence_on_moving_storms_and_is_reproducible() -> None:
    history = _storm_rates((-15.0, -10.0))
    nowcast = RainNowcast(GAUGES, GAUGES).fit(Series(history.start, STEP, history.values[:, :144]), horizon=6)
    said_now, said_moved, said_still, seen = [], [], [], []
    for origin in range(150, history.n_time - 6, 2):
        e = nowcast.update(Series(history.start, STEP, history.values[:, :origin])).predict(6)
        said_now.append(e.exceedance(10.0)[:, 5] >= 0.5)
        said_moved.append(e.lagrangian[:, 5] > 10.0)
        said_still.append(history.values[:, origin - 1] > 10.0)
        seen.append(history.values[:, origin + 5])
    ensemble, moved, still = (contingency(np.stack(s), np.stack(seen), 10.0) for s in (said_now, said_moved,
                                                                                         said_still))  # fmt: skip
    assert ensemble.hits + ensemble.misses > 50
    # 30 minutes ahead a moving storm is not where it was: moving the rain beats holding it.
    assert ensemble.csi > still.csi + 0.05 and moved.csi > still.csi + 0.05
    again = RainNowcast(GAUGES, GAUGES).fit(Series(history.start, STEP, history.values[:, :144]), horizon=6)
    first = again.update(Series(history.start, STEP, history.values[:, :200])).predict(6)
    second = again.update(Series(history.start, STEP, history.values[:, :200])).predict(6)
    assert np.array_equal(first.rates, second.rates)


def test_no_rain_no_forecast_and_a_silent_gauge_changes_nothing_else() -> None:
    dry = Series(START, STEP, np.zeros((len(GAUGES), 60)))
    ensemble = RainNowcast(GAUGES, GAUGES[:3]).fit(dry, horizon=6).predict(6)
    assert not ensemble.rates.any() and not ensemble.lagrangian.any()
    history = _storm_rates((-20.0, 0.0), hours=8.0)
    broken = history.values.copy()
    broken[5] = np.nan  # a gauge that never reported
    nowcast = RainNowcast(GAUGES, GAUGES[:3]).fit(Series(START, STEP, broken[:, :40]), horizon=6)
    out = nowcast.update(Series(START, STEP, broken[:, :40])).predict(6)
    assert np.isfinite(out.rates).all()
    with pytest.raises(ValueError, match="for 63 gauges given 2"):
        nowcast.update(Series(START, STEP, broken[:2]))
    with pytest.raises(RuntimeError, match="fit"):
        RainNowcast(GAUGES, GAUGES[:3]).predict(6)


def test_the_rain_map_is_the_gauges_where_they_stand_and_nothing_far_from_them() -> None:
    grid = Grid.around(GAUGES)
    rates = np.zeros((len(GAUGES), 1))
    rates[31] = 40.0  # one wet gauge at the centre
    field = rain_map(rates, GAUGES, grid)[0]
    centre = field[int(round(-grid.y0)), int(round(-grid.x0))]
    assert 5.0 < centre < 40.0 and field.max() == pytest.approx(centre, rel=0.05)  # dry neighbours dilute it
    assert field[0, 0] < 0.01  # far from every wet gauge: dry, not a copy of the nearest
    own = point_rain(rates, GAUGES, np.array([[0.0, 0.0], [2.0, 2.0]]))
    assert own[0, 0] == 40.0 and 0 < own[1, 0] < 40.0  # a street with its own gauge reads it
    assert len(candidate_velocities()) == 1 + 8 * 16
