"""Holidays and Tết in the profile: a coming Tết is forecast from the calendar, not from last week."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from forecasting import metrics
from forecasting.calendar import day_type
from forecasting.daytype import HOLIDAY, TET, DayTypeProfile
from forecasting.direct import ProfileAR
from forecasting.profile import TimeOfWeekAverage
from forecasting.series import Series
from simulators import city, scenarios
from simulators.sites import SiteKind, bundled_sites

STEP = 900.0


def _junction_counts(start: datetime, days: int) -> Series:
    junctions = tuple(s for s in bundled_sites() if s.kind == SiteKind.JUNCTION)
    sim = city.simulate(city.CityConfig(junctions, start.timestamp(), days * 86_400.0, STEP, seed=5))
    rows = [s.index for s in sim.sensors if s.kind == "traffic_count"]
    return Series(start.timestamp(), STEP, sim.truth[rows])


def test_the_calendar_knows_tet_holidays_and_the_rush_before_tet() -> None:
    assert day_type(datetime(2026, 2, 17).date()) == "tet"
    assert day_type(datetime(2026, 2, 14).date()) == "pre_tet"
    assert day_type(datetime(2026, 4, 30).date()) == "holiday"
    assert day_type(datetime(2026, 3, 7).date()) == "weekend" and day_type(datetime(2026, 3, 9).date()) == "weekday"
    profile = DayTypeProfile()
    times = np.array([datetime(2026, 2, 17, 9, tzinfo=scenarios.HCMC).timestamp(),
                      datetime(2026, 4, 30, 9, tzinfo=scenarios.HCMC).timestamp(),
                      datetime(2026, 3, 9, 9, tzinfo=scenarios.HCMC).timestamp()])  # fmt: skip
    assert profile.groups(times).tolist() == [TET, HOLIDAY, 0]


def test_tet_is_forecast_from_last_years_tet_not_from_last_week() -> None:
    whole = _junction_counts(datetime(2025, 1, 13, tzinfo=scenarios.HCMC), 404)  # Tết 2025 (Jan 28-Feb 1) .. 2026
    history_days = 399  # up to Monday 16 February 2026, the eve of Tết
    per_day = int(86_400 / STEP)
    history = Series(whole.start, STEP, whole.values[:, : history_days * per_day])
    actual = whole.values[:, history_days * per_day :]
    horizon = actual.shape[1]
    by_calendar = DayTypeProfile().fit(history).predict(horizon)
    by_last_weeks = TimeOfWeekAverage().fit(history).predict(horizon)
    calendar_mae = float(metrics.mae(actual, by_calendar.mean))
    weekly_mae = float(metrics.mae(actual, by_last_weeks.mean))
    assert calendar_mae < 0.5 * weekly_mae, (calendar_mae, weekly_mae)
    with_residual = ProfileAR(DayTypeProfile(), horizon_s=horizon * STEP).fit(history).predict(horizon)
    assert float(metrics.mae(actual, with_residual.mean)) < 0.5 * weekly_mae  # the calendar carries through
