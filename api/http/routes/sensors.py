"""A sensor's readings (downsampled in the database), newest forecast and forecast verification."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime

from api.http.deps import Conn, Now, Public, StorageEngine
from api.http.errors import ApiError, documented
from api.queries.forecasts import latest_forecast, verification
from api.queries.readings import read_readings, sensor_info
from api.schemas.series import ForecastOut, ReadingsOut, VerificationOut

router = APIRouter(prefix="/api/v1/sensors", tags=["sensors"], responses=documented(401, 404, 413, 422))
MAX_WINDOW = timedelta(days=400)
MAX_POINTS = 5000
SensorId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Start = Annotated[AwareDatetime | None, Query(description="ISO 8601 with offset; default: end minus 24 h")]
End = Annotated[AwareDatetime | None, Query(description="ISO 8601 with offset; default: now")]
Points = Annotated[int, Query(ge=2, le=MAX_POINTS, description="at most this many buckets")]


def window(start: datetime | None, end: datetime | None, now: datetime,
           default: timedelta) -> tuple[datetime, datetime]:  # fmt: skip
    """The asked window, checked: end after start, at most ``MAX_WINDOW`` long."""
    end = end or now
    start = start or end - default
    if end <= start:
        raise ApiError(422, "invalid", "end must be after start", "end")
    if end - start > MAX_WINDOW:
        raise ApiError(413, "window_too_long", f"the window may be at most {MAX_WINDOW.days} days", "start")
    return start, end


@router.get("/{sensor_id}/readings", response_model=ReadingsOut)
def readings(who: Public, conn: Conn, engine: StorageEngine, now: Now, sensor_id: SensorId,
             start: Start = None, end: End = None,
             points: Points = 500) -> ReadingsOut:  # fmt: skip
    """Min / mean / max / count and worst QC flag per bucket; ``bucket_s`` 0 means raw readings."""
    start, end = window(start, end, now, timedelta(hours=24))
    return read_readings(conn, sensor_info(conn, sensor_id), start, end, points, engine)


@router.get("/{sensor_id}/forecast", response_model=ForecastOut)
def forecast(who: Public, conn: Conn, sensor_id: SensorId) -> ForecastOut:
    """The newest forecast: mean, 80 / 95 % bands and the probability of exceeding the threshold
    at or before each time (404 ``no_forecast`` when none was issued)."""
    sensor_info(conn, sensor_id)
    return latest_forecast(conn, sensor_id)


@router.get("/{sensor_id}/forecast/verification", response_model=VerificationOut)
def forecast_verification(who: Public, conn: Conn, now: Now, sensor_id: SensorId,
                          lead_minutes: int = Query(60, ge=5, le=72 * 60, multiple_of=5),
                          start: Start = None, end: End = None) -> VerificationOut:  # fmt: skip
    """Past forecasts made ``lead_minutes`` ahead, next to the 5-minute mean that was observed."""
    start, end = window(start, end, now, timedelta(hours=24))
    sensor_info(conn, sensor_id)
    return verification(conn, sensor_id, lead_minutes, start, end, MAX_POINTS)
