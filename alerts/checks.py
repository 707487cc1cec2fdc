"""Rule conditions, vectorised over every subject at once: pure NumPy, no clock, no database.

Each check returns a ``Condition``: per subject whether the alert should be raised, whether it may
clear (the two differ by the rule's hysteresis, so a value hovering at the level cannot flap),
whether the data allowed a judgement at all (``known``), and the value shown to people.

Readings come as ``Recent``: the last ``k`` readings of every sensor, right-aligned, NaN-padded on
the left, so ``values[:, -1]`` is each sensor's newest reading whatever its cadence. The QC checks
(spike, rate of change) follow the QARTOD manuals and also return the flag of every reading they
judge, which the engine writes back to ``readings.qc``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from forecasting.series import Array
from storage.qc import QcFlag

Mask = npt.NDArray[np.bool_]
QC_SUSPECT, QC_FAIL = int(QcFlag.SUSPECT), int(QcFlag.FAIL)  # the flags ingest stores


@dataclass(frozen=True)
class Recent:
    """``values``/``times`` (n_sensors, k): newest reading last, NaN where a sensor has fewer than k.

    ``qc`` holds the stored flags (0 where no reading) so QC checks only ever raise a flag.
    """

    values: Array
    times: Array
    qc: npt.NDArray[np.int16]

    @property
    def count(self) -> npt.NDArray[np.int64]:
        return np.asarray(np.isfinite(self.times).sum(axis=1), dtype=np.int64)


@dataclass(frozen=True)
class Condition:
    raise_: Mask
    clear: Mask
    known: Mask
    value: Array
    onset: Array | None = None  # forecast rules: predicted time of crossing (Unix s), NaN if none


@dataclass(frozen=True)
class QcFlags:
    """Readings a QC check judged worse than stored: (row, column) into ``Recent`` and the new flag."""

    rows: npt.NDArray[np.int64]
    columns: npt.NDArray[np.int64]
    flags: npt.NDArray[np.int16]


def threshold(recent: Recent, level: Array, below: bool, hysteresis: float) -> Condition:
    value = recent.values[:, -1]
    known = np.isfinite(value) & np.isfinite(level)
    with np.errstate(invalid="ignore"):
        if below:
            return Condition(known & (value < level), known & (value > level + hysteresis), known, value)
        return Condition(known & (value > level), known & (value < level - hysteresis), known, value)


def rate_of_rise(recent: Recent, rise: float, window_s: float) -> Condition:
    """Rise of the newest reading over the oldest one within ``window_s`` before it (units per window)."""
    newest = recent.times[:, -1]
    with np.errstate(invalid="ignore"):
        inside = recent.times >= (newest - window_s)[:, None]
    first = np.argmax(inside, axis=1)
    base = recent.values[np.arange(len(first)), first]
    change = recent.values[:, -1] - base
    known = np.isfinite(change) & (first < recent.values.shape[1] - 1)
    return Condition(known & (change >= rise), known & (change < rise / 2), known, change)


def forecast_exceedance(
    probability: Array, targets: Array, issued_at: Array, now: float, within_s: float, max_age_s: float,
    raise_at: float, clear_below: float,
) -> Condition:  # fmt: skip
    """From the newest forecast per sensor: ``probability`` (n, h) of being above the alarm level at
    or before ``targets`` (n, h) Unix s. Value: the highest probability within the window; onset:
    the first target where the probability reaches one half (the predicted crossing)."""
    fresh = np.isfinite(issued_at) & (now - issued_at <= max_age_s)
    with np.errstate(invalid="ignore"):
        window = (targets <= now + within_s) & np.isfinite(probability)
        p = np.where(window, probability, -np.inf).max(axis=1, initial=-np.inf)
        likely = window & (probability >= 0.5)
    onset = np.where(likely.any(axis=1), targets[np.arange(len(p)), np.argmax(likely, axis=1)], np.nan)
    known = fresh & np.isfinite(p)
    value = np.where(known, p, np.nan)
    return Condition(known & (p >= raise_at), known & (p < clear_below), known, value, onset)


def flood_tier(
    tier: npt.NDArray[np.int64], probability: Array, crossing: Array, issued_at: Array, now: float, max_age_s: float,
    wanted: int, clear_below: float,
) -> Condition:  # fmt: skip
    """From the newest outlook per street: ``tier`` (0 none, 1 watch, 2 warning), the wanted tier's
    ``probability`` and the expected ``crossing`` (Unix s). Raised at or above ``wanted``; clear once
    below it and its probability under ``clear_below``; the value is that probability."""
    fresh = np.isfinite(issued_at) & (now - issued_at <= max_age_s) & np.isfinite(probability)
    value = np.where(fresh, probability, np.nan)
    at_least = tier >= wanted
    with np.errstate(invalid="ignore"):
        clear = fresh & ~at_least & (probability < clear_below)
    return Condition(fresh & at_least, clear, fresh, value, np.where(fresh, crossing, np.nan))


def forecast_below(
    mean: Array, targets: Array, issued_at: Array, now: float, within_s: float, max_age_s: float,
    level: float, hysteresis: float,
) -> Condition:  # fmt: skip
    """Forecast congestion: the lowest forecast mean within the window below ``level``."""
    fresh = np.isfinite(issued_at) & (now - issued_at <= max_age_s)
    with np.errstate(invalid="ignore"):
        window = (targets <= now + within_s) & np.isfinite(mean)
        low = np.where(window, mean, np.inf).min(axis=1, initial=np.inf)
        dips = window & (mean < level)
    onset = np.where(dips.any(axis=1), targets[np.arange(len(low)), np.argmax(dips, axis=1)], np.nan)
    known = fresh & np.isfinite(low)
    value = np.where(known, low, np.nan)
    return Condition(known & (low < level), known & (low > level + hysteresis), known, value, onset)


def stale(recent: Recent, now: float, cadences: float, min_gap_s: float, lookback_s: float) -> Condition:
    """Silent for ``cadences`` x its own cadence (estimated from the window), and at least ``min_gap_s``.

    A sensor with no reading in the whole lookback is stale (every registered sensor reported once);
    its value, the silence in seconds, is then at least ``lookback_s``.
    """
    count = recent.count
    newest = recent.times[:, -1]
    oldest = np.nanmin(np.where(np.isfinite(recent.times), recent.times, np.inf), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cadence = np.where(count >= 2, (newest - oldest) / np.maximum(count - 1, 1), np.nan)
    silence = np.where(count > 0, now - newest, lookback_s)
    limit = np.maximum(np.where(np.isfinite(cadence), cadences * cadence, min_gap_s), min_gap_s)
    raised = silence > limit
    return Condition(raised, ~raised, np.ones(len(count), dtype=np.bool_), silence)


def flatline(recent: Recent, count: int, tolerance: Array, rests_at_zero: Mask, count_at_rest: int) -> Condition:
    """The last ``count`` readings all within ``tolerance`` (per sensor) of each other.

    ``rests_at_zero`` rows (traffic counts, street depth gauges) sit at zero for long, healthy spells -
    an empty road at night, a dry street - so a run at zero must last ``count_at_rest`` readings
    before it counts as stuck: a healthy dry gauge still blips now and then.
    """
    last = recent.values[:, -count:]
    known = np.isfinite(last).all(axis=1) & np.isfinite(tolerance)
    span = np.where(known, np.ptp(np.nan_to_num(last), axis=1), np.nan)
    with np.errstate(invalid="ignore"):
        flat = known & (span <= tolerance)
        resting = rests_at_zero & np.all(np.abs(last) <= tolerance[:, None], axis=1)
        long_run = recent.values[:, -count_at_rest:]
        stuck_at_rest = np.isfinite(long_run).all(axis=1) & np.all(np.abs(long_run) <= tolerance[:, None], axis=1)
    flat = (flat & ~resting) | (resting & stuck_at_rest)
    return Condition(flat, known & ~flat, known, span)


def spike_flags(recent: Recent, suspect: Array, fail: Array) -> npt.NDArray[np.int16]:
    """QARTOD spike test on every consecutive triple: the flag of each middle reading, (n, k).

    score = |x_i - (x_{i-1} + x_{i+1}) / 2| - |(x_{i+1} - x_{i-1}) / 2|: large for a lone jump and
    small for a steep but steady rise. The newest reading cannot be judged until the next arrives.
    """
    x = recent.values
    score = np.full(x.shape, np.nan)
    score[:, 1:-1] = np.abs(x[:, 1:-1] - (x[:, :-2] + x[:, 2:]) / 2) - np.abs((x[:, 2:] - x[:, :-2]) / 2)
    flag = np.zeros(x.shape, np.int16)
    with np.errstate(invalid="ignore"):
        flag[score > suspect[:, None]] = QC_SUSPECT
        flag[score > fail[:, None]] = QC_FAIL
    return flag


def _bends(x: Array) -> Array:
    """How far each step departs from the previous step (a discrete second difference), (n, k)."""
    bend = np.full(x.shape, np.nan)
    bend[:, 2:] = x[:, 2:] - 2 * x[:, 1:-1] + x[:, :-2]
    return bend


def _row_median(x: Array) -> Array:
    """Median of each row's finite values (NaN for none): one sort, NaNs last, no masked arrays."""
    ordered = np.sort(x, axis=1)
    n = np.isfinite(ordered).sum(axis=1)
    rows = np.arange(len(x))
    low, high = np.maximum((n - 1) // 2, 0), np.maximum(n // 2, 0)
    return np.where(n > 0, (ordered[rows, low] + ordered[rows, high]) / 2, np.nan)


def _robust_spread(bend: Array) -> Array:
    """1.4826 x the median absolute deviation of each row: the standard deviation, robust to outliers."""
    centre = _row_median(bend)
    return np.asarray(1.4826 * _row_median(np.abs(bend - centre[:, None])), dtype=np.float64)


def roughness_flags(recent: Recent, sigmas: float, floor: Array) -> npt.NDArray[np.int16]:
    """Rate of change judged against the trend (QARTOD rate-of-change test, on the change of the
    step): a reading whose step departs from the previous step by more than ``sigmas`` robust
    standard deviations of such departures over the window (at least ``floor``), and at which the
    path turns back (it sits above both neighbours or below both), is SUSPECT. Noise and spikes turn
    at every bad reading; a flood rise that speeds up as the drains fill and slows as the water
    spreads over the road bends just as hard but turns nowhere, so it passes. The newest reading is
    judged once the next one is in (it needs both neighbours)."""
    x = recent.values
    bend = _bends(x)  # bend[:, j]: the step into x[j] against the step into x[j - 1], centred on x[j - 1]
    spread = np.fmax(_robust_spread(bend), floor)
    flag = np.zeros(bend.shape, np.int16)
    with np.errstate(invalid="ignore"):
        turns = (x[:, 1:-1] - x[:, :-2]) * (x[:, 2:] - x[:, 1:-1]) < 0
        flag[:, 1:-1][turns & (np.abs(bend[:, 2:]) > sigmas * spread[:, None])] = QC_SUSPECT
    return flag


def flagged_recently(
    recent: Recent, flag: npt.NDArray[np.int16], now: float, window_s: float, at_least: int
) -> Condition:
    """Alarm while the evidence of readings flagged SUSPECT or worse in the last ``window_s`` reaches
    ``at_least``. Evidence counts episodes (runs of consecutive flags) plus the flags beyond three per
    episode: a lone spike bends three steps in a row and counts one, scattered noise counts one per
    burst of flags, dense noise one per flag beyond the first three."""
    with np.errstate(invalid="ignore"):
        inside = recent.times > now - window_s
    flagged = (flag >= QC_SUSPECT) & inside
    episodes = (flagged & ~np.pad(flagged[:, :-1], ((0, 0), (1, 0)))).sum(axis=1)
    evidence = (episodes + np.maximum(0, flagged.sum(axis=1) - 3 * episodes)).astype(np.float64)
    known = recent.count >= 3
    raised = known & (evidence >= at_least)
    return Condition(raised, known & (evidence == 0), known, evidence)


def new_flags(recent: Recent, flag: npt.NDArray[np.int16]) -> QcFlags:
    """Readings whose check flag is worse than the stored one (written back to ``readings.qc``)."""
    rows, columns = np.nonzero((flag > recent.qc) & np.isfinite(recent.times))
    return QcFlags(rows.astype(np.int64), columns.astype(np.int64), flag[rows, columns])


def outside_band(observed: Array, lower: Array, upper: Array) -> Condition:
    """The observation outside the band a forecast gave for it (NaN anywhere: not judged)."""
    known = np.isfinite(observed) & np.isfinite(lower) & np.isfinite(upper)
    with np.errstate(invalid="ignore"):
        out = known & ((observed < lower) | (observed > upper))
    departure = np.where(observed > upper, observed - upper, np.where(observed < lower, observed - lower, 0.0))
    return Condition(out, known & ~out, known, np.where(known, departure, np.nan))


def alone(cond: Condition, groups: npt.NDArray[np.str_], shared_fraction: float) -> Condition:
    """Judge a departure only while few peers (same group, e.g. kind) depart too: when a storm pushes a
    fifth of the city's gauges off their forecasts, that is the world changing, not one sensor failing.
    Such moments are not judged (``known`` false), so a pending alert neither advances nor resets."""
    known = cond.known.copy()
    for group in np.unique(groups):  # a handful of kinds
        members = (groups == group) & cond.known
        departing = int(cond.raise_[members].sum())
        if departing >= 2 and departing >= shared_fraction * members.sum():
            known[groups == group] = False
    return Condition(cond.raise_ & known, cond.clear & known, known, cond.value, cond.onset)


def offline(offline_since: Array, now: float, grace_s: float) -> Condition:
    """``offline_since`` per device (NaN while online): the Last Will's time."""
    down = np.isfinite(offline_since)
    raised = down & (now - offline_since >= grace_s)
    return Condition(
        raised, ~down, np.ones(len(offline_since), dtype=np.bool_), np.where(down, now - offline_since, 0.0)
    )


def backlog(depths: Array, min_depth: int) -> Condition:
    """``depths`` (n_devices, m): queue depth in the last m heartbeats, oldest first, NaN when fewer."""
    known = np.asarray(np.isfinite(depths).all(axis=1), dtype=np.bool_)
    with np.errstate(invalid="ignore"):
        growing = np.all(np.diff(depths, axis=1) >= 0, axis=1) & (depths[:, -1] > depths[:, 0])
        raised = known & growing & (depths[:, -1] >= min_depth)
        cleared = known & (~growing | (depths[:, -1] < min_depth))
    return Condition(raised, cleared, known, depths[:, -1])


def clock_offsets(newest_reading: Array, received: Array, recent_s: float, max_offset_s: float = np.inf) -> Array:
    """Each device's timestamp offset from the fleet's (s), NaN for devices not heard from lately.

    offset = newest reading time - its arrival time; the fleet median is subtracted so the
    ingestor's own clock (and, in a simulation, the simulated clock) cancels out: most devices
    keep good time, so a device far from the median is the one whose clock is wrong. Only devices
    current by both clocks are compared: a device whose data stopped (or arrive in a late burst)
    is the staleness check's business, not a clock fault.
    """
    with np.errstate(invalid="ignore"):
        live = np.isfinite(received) & (received >= np.nanmax(received, initial=-np.inf) - recent_s)
        newest = np.nanmax(np.where(live, newest_reading, -np.inf), initial=-np.inf)
        live &= newest_reading >= newest - max(recent_s, 2 * max_offset_s)
    offset = np.where(live, newest_reading - received, np.nan)
    if not np.isfinite(offset).any():
        return offset
    return np.asarray(offset - np.nanmedian(offset), dtype=np.float64)


def clock(offset: Array, unsynced: Mask, max_offset_s: float) -> Condition:
    known = np.asarray(np.isfinite(offset) | unsynced, dtype=np.bool_)
    with np.errstate(invalid="ignore"):
        far = np.abs(offset) > max_offset_s
    raised = unsynced | (known & far)
    return Condition(raised, known & ~raised, known, offset)
