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
import numpy.typing as npt

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
    def counts(self) -> Contingency:
        return Contingency(self.hits, self.misses, self.false_alarms)

    @property
    def hit_rate(self) -> float:
        return self.counts.pod

    @property
    def false_alarm_ratio(self) -> float:
        return self.counts.far

    @property
    def median_lead_s(self) -> float:
        return float(np.median(self.lead_times_s)) if self.lead_times_s else float("nan")

    def __add__(self, other: EventSkill) -> EventSkill:
        return EventSkill(self.hits + other.hits, self.misses + other.misses,
                          self.false_alarms + other.false_alarms, self.lead_times_s + other.lead_times_s)  # fmt: skip


def event_skill(
    events: Sequence[tuple[float, float]], warnings: Sequence[float], max_lead_s: float, gap_s: float = 0.0
) -> EventSkill:
    """Skill of ``warnings`` (issue times of a repeated warning) for ``events`` (start, end) at one place.

    Each event is hit by the earliest warning in ``[start - max_lead_s, start]``; its lead time is
    the time from that warning to the start. Warnings repeat every forecast cycle, so issues at
    most ``gap_s`` apart form one episode; an episode with no issue between any event's
    ``start - max_lead_s`` and its ``end`` is one false alarm. (A warning that goes on while the
    water is already up is neither a hit nor a false alarm.)
    """
    spans = np.asarray(events, dtype=np.float64).reshape(-1, 2)
    issued = np.sort(np.asarray(warnings, dtype=np.float64))
    leads: list[float] = []
    for start in np.sort(spans[:, 0]):
        early = issued[(issued >= start - max_lead_s) & (issued <= start)]
        if len(early):
            leads.append(float(start - early[0]))
    useful = np.zeros(len(issued), dtype=bool)
    for start, end in spans:
        useful |= (issued >= start - max_lead_s) & (issued <= end)
    episode = np.concatenate([[0], np.cumsum(np.diff(issued) > gap_s)]) if len(issued) else np.zeros(0, np.int64)
    n_episodes = int(episode[-1]) + 1 if len(issued) else 0
    useful_episodes = np.zeros(n_episodes, dtype=bool)
    np.logical_or.at(useful_episodes, episode, useful)
    return EventSkill(len(leads), len(spans) - len(leads), int((~useful_episodes).sum()), tuple(leads))


@dataclass(frozen=True)
class Contingency:
    """Counts of a yes/no forecast against what happened (rain above a rate, say): POD, FAR and CSI."""

    hits: int
    misses: int
    false_alarms: int

    @property
    def pod(self) -> float:
        """Probability of detection: the share of events forecast."""
        events = self.hits + self.misses
        return self.hits / events if events else float("nan")

    @property
    def far(self) -> float:
        """False-alarm ratio: the share of forecast events that did not happen."""
        said = self.hits + self.false_alarms
        return self.false_alarms / said if said else float("nan")

    @property
    def csi(self) -> float:
        """Critical success index (threat score): hits over everything but correct negatives."""
        total = self.hits + self.misses + self.false_alarms
        return self.hits / total if total else float("nan")

    def __add__(self, other: Contingency) -> Contingency:
        return Contingency(self.hits + other.hits, self.misses + other.misses, self.false_alarms + other.false_alarms)


def contingency(forecast: npt.NDArray[np.bool_], observed: Array, threshold: float) -> Contingency:
    """Yes/no ``forecast`` against ``observed > threshold`` (same shape); missing observations are skipped."""
    known = np.isfinite(observed)
    seen = known & (np.where(known, observed, 0.0) > threshold)
    said = known & forecast
    return Contingency(int((said & seen).sum()), int((~said & seen).sum()), int((said & ~seen).sum()))
