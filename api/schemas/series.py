"""Columnar series (uPlot's shape: equal-length arrays): readings, forecasts and their verification."""

from __future__ import annotations

from pydantic import Field

from api.schemas.common import Out, UtcTime


class ReadingsOut(Out):
    sensor_id: int
    kind: str
    unit: str
    start: UtcTime
    end: UtcTime
    bucket_s: int = Field(description="bucket width in seconds; 0: raw readings")
    time: list[UtcTime] = Field(description="bucket starts (or reading times when raw)")
    mean: list[float | None]
    min: list[float | None]
    max: list[float | None]
    samples: list[int] = Field(description="readings in the bucket that count (QC fail excluded)")
    qc: list[int] = Field(description="worst QARTOD flag in the bucket: 1 pass, 3 suspect, 4 fail")


class ForecastOut(Out):
    sensor_id: int
    issued_at: UtcTime
    model: str
    threshold: float | None
    fallback: bool
    time: list[UtcTime]
    mean: list[float | None]
    lower_80: list[float | None]
    upper_80: list[float | None]
    lower_95: list[float | None]
    upper_95: list[float | None]
    exceed_probability: list[float | None]


class VerificationOut(Out):
    sensor_id: int
    lead_minutes: int
    time: list[UtcTime] = Field(description="the forecast's target time")
    forecast: list[float | None]
    observed: list[float | None] = Field(description="the 5-minute mean that happened")
    lower_80: list[float | None]
    upper_80: list[float | None]
