"""Local calendars for traffic: weekdays, weekends, public holidays and Tết, in a local time zone.

Public holidays come from the ``holidays`` package (lunar dates included), so Tết moves with the
Lunar New Year as it does in the city. ``LocalCalendar(time_zone, country)`` is a setting of the
models that read it - Ho Chi Minh City and Vietnam by default - so the engine serves another city
by configuration; the module-level functions are Vietnam's calendar at UTC+7, shared by the
traffic simulator and the forecasting models so both read the same days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import numpy.typing as npt

LOCAL_UTC_OFFSET_S = 7 * 3600
DEFAULT_TIME_ZONE = "Asia/Ho_Chi_Minh"
DEFAULT_COUNTRY = "VN"
DAY_TYPES = ("weekday", "weekend", "holiday", "pre_tet", "tet")
PRE_TET_DAYS = 3  # the rush home before the Lunar New Year


@cache
def _holidays(country: str, year: int) -> dict[date, str]:
    return dict(holidays.country_holidays(country, years=year).items())


def _is_tet(name: str) -> bool:
    return "Lunar New Year" in name


def day_type(day: date, country: str = DEFAULT_COUNTRY) -> str:
    """One of ``DAY_TYPES`` for a local calendar day (Tết and the days before it: Vietnam's calendar only)."""
    name = _holidays(country, day.year).get(day, "")
    if country == "VN" and _is_tet(name):
        return "tet"
    if name:
        return "holiday"
    ahead = (day + timedelta(days=k) for k in range(1, PRE_TET_DAYS + 1))
    if country == "VN" and any(_is_tet(_holidays(country, d.year).get(d, "")) for d in ahead):
        return "pre_tet"
    return "weekend" if day.weekday() >= 5 else "weekday"


def local_days(times: npt.NDArray[np.float64], utc_offset_s: float = LOCAL_UTC_OFFSET_S) -> npt.NDArray[np.int64]:
    """Local calendar day numbers (days since 1970-01-01) of Unix times."""
    return ((times + utc_offset_s) // 86_400).astype(np.int64)


def day_types(times: npt.NDArray[np.float64], utc_offset_s: float = LOCAL_UTC_OFFSET_S) -> npt.NDArray[np.str_]:
    """The day type of each time (one calendar lookup per distinct day), Vietnam's calendar."""
    return _types_of_days(local_days(times, utc_offset_s), DEFAULT_COUNTRY)


def _types_of_days(days: npt.NDArray[np.int64], country: str) -> npt.NDArray[np.str_]:
    unique, inverse = np.unique(days, return_inverse=True)
    kinds = np.array([day_type(date(1970, 1, 1) + timedelta(days=int(d)), country) for d in unique])
    return kinds[inverse] if len(unique) else np.zeros(0, dtype=np.str_)


@dataclass(frozen=True)
class LocalCalendar:
    """A time zone (IANA name) and a country's public holidays (``holidays`` country code)."""

    time_zone: str = DEFAULT_TIME_ZONE
    country: str = DEFAULT_COUNTRY

    def __post_init__(self) -> None:
        ZoneInfo(self.time_zone)  # an unknown zone fails here, when the settings are read
        holidays.country_holidays(self.country)  # and so does an unknown country

    def utc_offsets(self, times: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Local offset from UTC (s) at each time, daylight saving included (one look-up per distinct hour)."""
        zone = ZoneInfo(self.time_zone)
        hours, inverse = np.unique((np.asarray(times) // 3600).astype(np.int64), return_inverse=True)
        offsets = np.array([datetime.fromtimestamp(3600.0 * h, UTC).astimezone(zone).utcoffset().total_seconds()  # type: ignore[union-attr]
                            for h in hours], dtype=np.float64)  # fmt: skip
        return offsets[inverse] if len(hours) else np.zeros(0)

    def offset_at(self, moment: float) -> float:
        return float(self.utc_offsets(np.array([moment]))[0])

    def local_seconds(self, times: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.asarray(times, dtype=np.float64) + self.utc_offsets(times)

    def local_days(self, times: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        return (self.local_seconds(times) // 86_400).astype(np.int64)

    def seconds_of_day(self, times: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.asarray(self.local_seconds(times) % 86_400, dtype=np.float64)

    def weekdays(self, times: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """Monday 0 ... Sunday 6 (1970-01-01 was a Thursday)."""
        return (self.local_days(times) + 3) % 7

    def day_types(self, times: npt.NDArray[np.float64]) -> npt.NDArray[np.str_]:
        return _types_of_days(self.local_days(times), self.country)
