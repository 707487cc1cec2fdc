"""Every rule's condition over its subjects, from the inputs: pure, vectorised, one call per cycle.

Subjects are sensors for value and QC rules and devices for device rules; ``Judgement`` names
them by index so the store can key alerts as ``sensor:<id>`` / ``device:<id>``. Device rules
inhibit sensor staleness: when a device is offline its sensors' silence is that one fact, not N.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import assert_never

import numpy as np
import numpy.typing as npt

from alerts import checks
from alerts.checks import Condition, QcFlags, Recent
from alerts.observations import Inputs, Outlooks, Subjects
from alerts.rules import (
    AnyRule,
    Backlog,
    ClockRule,
    Congestion,
    Drift,
    Flatline,
    FloodTier,
    ForecastExceedance,
    Offline,
    RateOfChange,
    RateOfRise,
    RuleBook,
    Spike,
    Stale,
    Threshold,
)
from edge.protocol import Kind
from forecasting.floods import Tier, TierRules

QC_KINDS = (Kind.WATER_LEVEL, Kind.TRAFFIC_COUNT, Kind.TRAFFIC_SPEED)  # continuous signals; rain sits at zero for days
ZERO_AT_REST = (Kind.TRAFFIC_COUNT, Kind.WATER_LEVEL)  # an empty road at night, a dry street's depth gauge
ROUGHNESS_FLOOR = {Kind.WATER_LEVEL: 0.005, Kind.TRAFFIC_SPEED: 2.0}
COUNT_ROUGHNESS_FLOOR = 1.0  # in Anscombe units: Poisson noise alone bends about 2.4


@dataclass(frozen=True)
class Judgement:
    rule: AnyRule
    on_devices: bool
    rows: npt.NDArray[np.int64]  # sensor or device rows of ``Subjects`` this rule judges
    condition: Condition
    level: npt.NDArray[np.float64]  # the threshold shown with the value (NaN where none)
    flags: QcFlags | None = None  # QC flags to write, rows into ``Subjects`` sensors


def _take(recent: Recent, rows: npt.NDArray[np.int64]) -> Recent:
    return Recent(recent.values[rows], recent.times[rows], recent.qc[rows])


def _per_kind(kinds: npt.NDArray[np.str_], table: Mapping[Kind, float]) -> npt.NDArray[np.float64]:
    """A per-kind setting as a per-sensor array (a handful of kinds, not a loop over sensors)."""
    out = np.full(len(kinds), np.nan)
    for kind, value in table.items():
        out[kinds == kind] = value
    return out


def evaluate(book: RuleBook, subjects: Subjects, inputs: Inputs) -> list[Judgement]:
    offline_devices = np.isfinite(inputs.health.offline_since)
    return [_judge(rule, subjects, inputs, offline_devices) for rule in book.rules]


def _judge(rule: AnyRule, s: Subjects, inputs: Inputs, offline_devices: npt.NDArray[np.bool_]) -> Judgement:
    """One rule over every subject it applies to; mypy checks that every kind of rule is handled."""
    now, recent, f, health = inputs.now, inputs.recent, inputs.forecasts, inputs.health
    nan_levels = np.full(len(s.sensor_ids), np.nan)
    rows_qc = np.flatnonzero(np.isin(s.kinds, QC_KINDS))
    devices = np.arange(len(s.device_ids))
    no_level = np.full(len(devices), np.nan)
    match rule:
        case Threshold():
            rows = np.flatnonzero(s.kinds == rule.metric)
            level = s.alarm_levels[rows] if rule.level == "alarm_level" else np.full(len(rows), float(rule.level))
            cond = checks.threshold(_take(recent, rows), level, rule.below, rule.hysteresis)
            return Judgement(rule, False, rows, cond, level)
        case RateOfRise():
            rows = np.flatnonzero(s.kinds == rule.metric)
            cond = checks.rate_of_rise(_take(recent, rows), rule.rise, rule.window_s)
            return Judgement(rule, False, rows, cond, np.full(len(rows), rule.rise))
        case ForecastExceedance():
            rows = np.flatnonzero((s.kinds == rule.metric) & np.isfinite(s.alarm_levels))
            cond = checks.forecast_exceedance(
                f.probability[rows], f.targets[rows], f.issued_at[rows], now, rule.within_s,
                rule.max_forecast_age_s, rule.probability, rule.clear_below(),
            )  # fmt: skip
            return Judgement(rule, False, rows, cond, s.alarm_levels[rows])
        case FloodTier():
            o = inputs.outlooks or Outlooks.none(len(s.sensor_ids))
            rows = np.flatnonzero(np.isfinite(o.issued_at))
            wanted = Tier.WARNING if rule.tier == "warning" else Tier.WATCH
            probability = (o.warning if wanted == Tier.WARNING else o.watch)[rows]
            default_clear = TierRules().warning_clear if wanted == Tier.WARNING else TierRules().watch_clear
            clear = default_clear if rule.clear_probability is None else rule.clear_probability
            cond = checks.flood_tier(o.tier[rows], probability, o.crossing[rows], o.issued_at[rows], now,
                                     rule.max_outlook_age_s, int(wanted), clear)  # fmt: skip
            return Judgement(rule, False, rows, cond, s.alarm_levels[rows])
        case Congestion():
            rows = np.flatnonzero(s.kinds == Kind.TRAFFIC_SPEED)
            level = np.full(len(rows), rule.below_kmh)
            if rule.source == "observed":
                cond = checks.threshold(_take(recent, rows), level, True, rule.hysteresis_kmh)
            else:
                cond = checks.forecast_below(
                    f.mean[rows], f.targets[rows], f.issued_at[rows], now, rule.within_s,
                    rule.max_forecast_age_s, rule.below_kmh, rule.hysteresis_kmh,
                )  # fmt: skip
            return Judgement(rule, False, rows, cond, level)
        case Stale():
            rows = np.arange(len(s.sensor_ids))
            cond = checks.stale(recent, now, rule.cadences, rule.min_gap_s, inputs.lookback_s)
            inhibited = offline_devices[s.sensor_device]  # the device's offline alarm says it all
            cond = Condition(cond.raise_ & ~inhibited, cond.clear | inhibited, cond.known, cond.value)
            return Judgement(rule, False, rows, cond, nan_levels)
        case Flatline():
            part = _take(recent, rows_qc)
            kinds = s.kinds[rows_qc]
            cond = checks.flatline(
                part, rule.count, _per_kind(kinds, rule.tolerance), np.isin(kinds, ZERO_AT_REST), rule.count_at_rest
            )
            flag = np.zeros(part.values.shape, np.int16)
            flag[cond.raise_, -rule.count :] = checks.QC_SUSPECT  # QARTOD flat line: the run is suspect
            return _qc_judgement(rule, rows_qc, part, cond, flag)
        case Spike():
            part = _take(recent, rows_qc)
            kinds = s.kinds[rows_qc]
            flag = checks.spike_flags(part, _per_kind(kinds, rule.suspect), _per_kind(kinds, rule.fail))
            return _qc_judgement(rule, rows_qc, part, checks.flagged_recently(part, flag, now, rule.window_s, 1), flag)
        case RateOfChange():
            part = _take(recent, rows_qc)
            counts = s.kinds[rows_qc] == Kind.TRAFFIC_COUNT
            # Counts are Poisson-like: their jitter grows with the traffic. Anscombe's square root makes it
            # the same at 3 a.m. and at rush hour, so one sensor's jitter is one number.
            stable = np.where(counts[:, None], 2 * np.sqrt(np.maximum(part.values, 0) + 3 / 8), part.values)
            floor = np.where(counts, COUNT_ROUGHNESS_FLOOR, _per_kind(s.kinds[rows_qc], ROUGHNESS_FLOOR))
            judged = Recent(stable, part.times, part.qc)
            flag = checks.roughness_flags(judged, rule.sigmas, floor)
            cond = checks.flagged_recently(judged, flag, now, rule.window_s, rule.min_episodes)
            return _qc_judgement(rule, rows_qc, part, cond, flag)
        case Drift():
            h = inputs.hindcast
            cond = checks.outside_band(h.observed[rows_qc], h.lower[rows_qc], h.upper[rows_qc])
            cond = checks.alone(cond, s.kinds[rows_qc], rule.shared_fraction)
            return Judgement(rule, False, rows_qc, cond, nan_levels[rows_qc])
        case Offline():
            reference = max(now, float(np.nanmax(health.received, initial=now)))  # see docs/alerts.md: clocks
            cond = checks.offline(health.offline_since, reference, rule.grace_s)
            return Judgement(rule, True, devices, cond, no_level)
        case Backlog():
            depths = health.depths[:, -rule.heartbeats :]  # read_inputs fetched RuleBook.heartbeats_needed()
            return Judgement(rule, True, devices, checks.backlog(depths, rule.min_depth), no_level)
        case ClockRule():
            offsets = checks.clock_offsets(health.newest_reading, health.received, rule.recent_s, rule.max_offset_s)
            offsets = np.where(offline_devices, np.nan, offsets)
            return Judgement(rule, True, devices, checks.clock(offsets, health.unsynced, rule.max_offset_s), no_level)
        case _:
            assert_never(rule)


def _qc_judgement(
    rule: AnyRule, rows: npt.NDArray[np.int64], part: Recent, cond: Condition, flag: npt.NDArray[np.int16]
) -> Judgement:
    """A QC rule's judgement, with the flags it raises mapped from ``part``'s rows to the sensors'."""
    fresh = checks.new_flags(part, flag)
    return Judgement(rule, False, rows, cond, np.full(len(rows), np.nan),
                     QcFlags(rows[fresh.rows], fresh.columns, fresh.flags))  # fmt: skip
