"""Regression tests for the defects found on real data (issue 16): each failed on the code before the fix."""

from __future__ import annotations

import numpy as np

from forecasting import tide
from forecasting.daytype import DayTypeProfile
from forecasting.direct import ProfileAR
from forecasting.profile import TimeOfWeekAverage
from forecasting.series import Series
from forecasting.water import WaterLevelModel
from tests.forecasting.test_water import _rainy_canals

DAY = 288
HOUR = 3600.0


def test_a_water_forecast_does_not_depend_on_what_was_updated_before_its_first_predict() -> None:
    """Defect 1: the regressions were solved lazily at the first ``predict`` of a horizon, on
    whatever history the model held then - ``fit(train)``, ``update(recent)``, ``predict`` trained
    on ``recent``."""
    level, rain, link = _rainy_canals(days=24, seed=2)
    train = Series(level.start, level.step_s, level.values[:, : 20 * DAY])
    recent = Series(level.start + 18 * DAY * level.step_s, level.step_s, level.values[:, 18 * DAY : 22 * DAY])
    first = WaterLevelModel(rain, link, horizon_s=3 * HOUR).fit(train)
    updated_first = first.update(recent).predict(36).mean
    second = WaterLevelModel(rain, link, horizon_s=3 * HOUR).fit(train)
    second.predict(36)  # a forecast from the training origin before moving on
    predicted_first = second.update(recent).predict(36).mean
    assert np.allclose(updated_first, predicted_first, atol=1e-9)
    whole = Series(level.start, level.step_s, level.values[:, : 22 * DAY])
    assert np.allclose(second.update(whole).predict(36).mean, predicted_first, atol=1e-9)  # window length: no matter


def test_slots_never_seen_are_flagged_and_filled_from_the_same_time_of_day() -> None:
    """Defect 2: with under a week of history the weekly profiles forecast the series mean for
    slots never seen, with ``fallback`` False."""
    t = np.arange(3 * DAY)
    values = 10 + 5 * np.sin(2 * np.pi * t / DAY)[None, :].repeat(2, axis=0)
    history = Series(1_791_000_000.0 - 1_791_000_000.0 % 86_400, 300.0, values)  # October 2026: no holiday near
    for model in (TimeOfWeekAverage(), DayTypeProfile(), ProfileAR()):
        forecast = model.fit(history).predict(DAY)  # a weekday the history has not seen
        assert forecast.fallback is not None and forecast.fallback.all(), model.name
        assert np.allclose(forecast.mean, values[:, :DAY], atol=0.6), model.name  # the daily rhythm, not the mean


def test_the_tide_at_an_hour_does_not_depend_on_the_span_asked_for() -> None:
    """Defect 3: nodal corrections were taken at the middle of the requested span (and once for a
    whole multi-year record in ``analyse``), so the same hour's tide moved with the span."""
    names = ["M2", "K1", "O1", "MF"]
    constants = tide.TidalConstants(tuple(names), np.array([[1.0, 0.4, 0.3, 0.1]]), np.array([[10.0, 80.0, 60.0, 5.0]]),
                                    np.zeros(1))  # fmt: skip
    start = 1_700_000_000.0
    hour = start + HOUR * np.arange(24, dtype=np.float64)
    alone = constants.predict(hour)
    decade_ahead = constants.predict(start + HOUR * np.arange(10 * 8766, dtype=np.float64))[
        :, :24
    ]  # its middle: 5 years on
    assert np.abs(alone - decade_ahead).max() < 1e-6  # the old code: 6 cm apart
    ten_years = Series(start, HOUR, constants.predict(start + HOUR * np.arange(10 * 8766, dtype=np.float64)))
    analysed = tide.analyse(ten_years, names=names, inference=())
    assert np.allclose(analysed.amplitude, constants.amplitude, atol=1e-4)  # one correction per hour, not per record
