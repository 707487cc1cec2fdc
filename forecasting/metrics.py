"""Forecast scores: point errors, interval coverage, and skill at warning of threshold events.

Point and interval scores take (..., horizon) arrays and ignore pairs with a missing actual.
Event skill compares warnings with the ground truth's event starts (``simulators.truth``): a
warning *hits* an event when issued at most ``max_lead_s`` before it starts (and not after), its
lead time is how early the first such warning came; a warning no event follows is a false alarm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from forecasting.series import Array

MAPE_FLOOR = 1e-6  # actuals this close to zero are left out of MAPE (it is undefined there)


def _pairs(actual: Array, predicted: Array) -> tuple[Array, Array]:
    ok = np.isfinite(actual) & np.isfinite(predicted)
    return np.where(ok, actual, np.nan), np.where(ok, predicted, np.nan)


def mae(actual: Array, predicted: Array, axis: int | tuple[int, ...] | None = None) -> Array:
    a, p = _pairs(actual, predicted)
    return np.asarray(np.nanmean(np.abs(a - p), axis=axis))


def rmse(actual: Array, predicted: Array, axis: int | tuple[int, ...] | None = None) -> Array:
    a, p = _pairs(actual, predicted)
    return np.asarray(np.sqrt(np.nanmean((a - p) ** 2, axis=axis)))


def masked_mape(actual: Array, predicted: Array, axis: int | tuple[int, ...] | None = None) -> Array:
    """Mean absolute percentage error (%) over actuals away from zero (empty traffic at night, dry streets)."""
    a, p = _pairs(actual, predicted)
    a = np.where(np.abs(a) > MAPE_FLOOR, a, np.nan)
    return np.asarray(100.0 * np.nanmean(np.abs((a - p) / a), axis=axis))


def coverage(actual: Array, lower: Array, upper: Array, axis: int | tuple[int, ...] | None = None) -> Array:
    """Share of actuals inside [lower, upper]."""
    ok = np.isfinite(actual) & np.isfinite(lower) & np.isfinite(upper)
    inside = np.where(ok, (actual >= lower) & (actual <= upper), np.nan)
    return np.asarray(np.nanmean(inside, axis=axis))


@dataclass(frozen=True)
class EventSkill:
    hits: int
    misses: int
    false_alarms: int
    lead_times_s: tuple[float, ...]  # one per hit: event start minus the first warning for it

    @property
    def hit_rate(self) -> float:
        events = self.hits + self.misses
        return self.hits / events if events else float("nan")

    @property
    def false_alarm_ratio(self) -> float:
        warned = self.hits + self.false_alarms
        return self.false_alarms / warned if warned else float("nan")

    @property
    def median_lead_s(self) -> float:
        return float(np.median(self.lead_times_s)) if self.lead_times_s else float("nan")

    def __add__(self, other: EventSkill) -> EventSkill:
        return EventSkill(self.hits + other.hits, self.misses + other.misses,
                          self.false_alarms + other.false_alarms, self.lead_times_s + other.lead_times_s)  # fmt: skip


def event_skill(event_starts: Sequence[float], warnings: Sequence[float], max_lead_s: float) -> EventSkill:
    """Skill of ``warnings`` (issue times) for ``event_starts`` at one place.

    Each event is hit by the earliest warning in ``[start - max_lead_s, start]``. A warning that
    lies in no event's window is a false alarm; several warnings for one event count once.
    """
    starts = np.sort(np.asarray(event_starts, dtype=np.float64))
    issued = np.sort(np.asarray(warnings, dtype=np.float64))
    leads: list[float] = []
    for start in starts:
        early = issued[(issued >= start - max_lead_s) & (issued <= start)]
        if len(early):
            leads.append(float(start - early[0]))
    useful = np.zeros(len(issued), dtype=bool)
    for start in starts:
        useful |= (issued >= start - max_lead_s) & (issued <= start)
    return EventSkill(len(leads), len(starts) - len(leads), int((~useful).sum()), tuple(leads))
