"""Ho Chi Minh City's calendar for traffic: weekdays, weekends, public holidays and Tết.

Public holidays come from the ``holidays`` package's Vietnamese calendar (lunar dates included),
so Tết moves with the Lunar New Year as it does in the city. Shared by the traffic simulator and
the forecasting models, so both read the same calendar.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import holidays
import numpy as np
import numpy.typing as npt

LOCAL_UTC_OFFSET_S = 7 * 3600
DAY_TYPES = ("weekday", "weekend", "holiday", "pre_tet", "tet")
PRE_TET_DAYS = 3  # the rush home before the Lunar New Year


@cache
def _vn_holidays(year: int) -> dict[date, str]:
    return dict(holidays.country_holidays("VN", years=year).items())


def _is_tet(name: str) -> bool:
    return "Lunar New Year" in name


def day_type(day: date) -> str:
    """One of ``DAY_TYPES`` for a local calendar day."""
    name = _vn_holidays(day.year).get(day, "")
    if _is_tet(name):
        return "tet"
    if name:
        return "holiday"
    ahead = (day + timedelta(days=k) for k in range(1, PRE_TET_DAYS + 1))
    if any(_is_tet(_vn_holidays(d.year).get(d, "")) for d in ahead):
        return "pre_tet"
    return "weekend" if day.weekday() >= 5 else "weekday"


def local_days(times: npt.NDArray[np.float64], utc_offset_s: float = LOCAL_UTC_OFFSET_S) -> npt.NDArray[np.int64]:
    """Local calendar day numbers (days since 1970-01-01) of Unix times."""
    return ((times + utc_offset_s) // 86_400).astype(np.int64)


def day_types(times: npt.NDArray[np.float64], utc_offset_s: float = LOCAL_UTC_OFFSET_S) -> npt.NDArray[np.str_]:
    """The day type of each time (one calendar lookup per distinct day)."""
    days = local_days(times, utc_offset_s)
    unique, inverse = np.unique(days, return_inverse=True)
    kinds = np.array([day_type(date(1970, 1, 1) + timedelta(days=int(d))) for d in unique])
    return kinds[inverse]
