"""The checks on pure arrays: each fires on its fault and stays quiet on healthy signals."""

from __future__ import annotations

import numpy as np
import pytest

from alerts import checks
from alerts.checks import QC_FAIL, QC_SUSPECT, Recent

K = 60
T = np.arange(K) * 60.0  # one reading a minute, newest at 59 min


def _recent(*rows: np.ndarray, times: np.ndarray = T) -> Recent:
    values = np.vstack(rows).astype(np.float64)
    return Recent(values, np.tile(times, (len(rows), 1)), np.ones(values.shape, np.int16))


def _tide() -> np.ndarray:
    level: np.ndarray = 1.0 + 0.5 * np.sin(T / 3600.0) + np.random.default_rng(0).normal(0, 0.003, K)
    return level


def test_rate_of_rise_over_the_window_before_the_newest_reading() -> None:
    flat, rising = np.full(K, 1.0), 1.0 + np.r_[np.zeros(K - 10), np.linspace(0.02, 0.2, 10)]
    cond = checks.rate_of_rise(_recent(flat, rising), rise=0.15, window_s=600)
    assert list(cond.raise_) == [False, True] and cond.value[1] == pytest.approx(0.2)


def test_stale_is_judged_by_each_sensors_own_cadence_even_while_connected() -> None:
    every_minute = T.copy()
    every_5_minutes = np.where(np.arange(K) % 5 == 0, T, np.nan)
    values = np.ones(K)
    recent = Recent(np.vstack([values, values]), np.vstack([every_minute, every_5_minutes]), np.ones((2, K), np.int16))
    quiet_for_10_min = T[-1] + 600
    cond = checks.stale(recent, quiet_for_10_min, cadences=5, min_gap_s=120, lookback_s=3600)
    assert list(cond.raise_) == [True, False]  # 10 silent minutes: 10 cadences of one, 2 of the other
    never = Recent(np.full((1, K), np.nan), np.full((1, K), np.nan), np.zeros((1, K), np.int16))
    assert checks.stale(never, 0.0, 5, 120, 3600).raise_[0]


def test_flatline_finds_a_stuck_sensor_but_not_an_empty_street_at_night() -> None:
    stuck = np.r_[_tide()[:50], np.full(10, 1.234)]
    night = np.r_[np.zeros(K - 30), 3.0, np.zeros(29)]  # an empty road: zeros, and now and then a car
    dead = np.zeros(K)
    cond = checks.flatline(_recent(_tide(), stuck, night, dead), 10, np.array([0.001, 0.001, 0.0, 0.0]),
                           np.array([False, False, True, True]), count_at_rest=45)  # fmt: skip
    assert list(cond.raise_) == [False, True, False, True]


def test_spike_flags_the_lone_jump_not_a_steep_steady_rise() -> None:
    spiky = _tide()
    spiky[30] += 3.0
    flood = 1.0 + np.r_[np.zeros(30), np.linspace(0, 2.0, 30)]  # 7 cm a minute, steadily
    recent = _recent(spiky, flood)
    flag = checks.spike_flags(recent, np.array([0.5, 0.5]), np.array([1.5, 1.5]))
    assert np.flatnonzero(flag[0]).tolist() == [30] and flag[0, 30] == QC_FAIL
    assert not flag[1].any()
    fresh = checks.new_flags(recent, flag)
    assert fresh.rows.tolist() == [0] and fresh.columns.tolist() == [30]
    already = Recent(recent.values, recent.times, np.where(flag > 0, QC_FAIL, 1).astype(np.int16))
    assert len(checks.new_flags(already, flag).rows) == 0  # never re-flagged, never lowered
    cond = checks.flagged_recently(recent, flag, now=T[-1], window_s=3600, at_least=1)
    assert list(cond.raise_) == [True, False]


def test_rate_of_change_flags_a_noise_burst_not_a_flood_rise() -> None:
    rng = np.random.default_rng(3)
    noisy = _tide()
    noisy[45:] += rng.normal(0, 0.25, K - 45)
    flood = 1.0 + np.r_[np.zeros(30), np.linspace(0, 2.0, 30)] + rng.normal(0, 0.003, K)
    spiky = _tide()
    spiky[50] += 0.5
    # A dry street flooding as in monsoon-storm (5-minute readings, here a minute apart): the rise speeds
    # up as the drains fill and slows as the water spreads; each bend is 5 sigmas off the dry days' jitter.
    street = np.r_[np.zeros(K - 10), 0.012, 0.017, 0.018, 0.038, 0.086, 0.118, 0.123, 0.126, 0.13, 0.131]
    recent = _recent(noisy, flood, _tide(), spiky, street)
    flag = checks.roughness_flags(recent, 4.0, np.full(5, 0.005))
    assert (flag[0, 45:] == QC_SUSPECT).sum() >= 5
    assert flag[3, 50] == QC_SUSPECT and set(np.flatnonzero(flag[3])) <= {49, 50, 51}  # the spike's reading
    assert not flag[4].any()  # the street's rise turns nowhere: no noise
    cond = checks.flagged_recently(recent, flag, now=T[-1], window_s=1800, at_least=2)
    assert list(cond.raise_) == [True, False, False, False, False] and cond.value[3] == 1


def test_forecast_exceedance_reports_probability_and_predicted_crossing() -> None:
    issued = np.array([1000.0, 1000.0, np.nan])
    targets = np.tile(1000.0 + 300.0 * np.arange(1, 13), (3, 1))
    probability = np.vstack([np.linspace(0.0, 0.9, 12), np.full(12, 0.1), np.full(12, 0.9)])
    cond = checks.forecast_exceedance(probability, targets, issued, now=1100.0, within_s=3600, max_age_s=900,
                                      raise_at=0.5, clear_below=0.3)  # fmt: skip
    assert list(cond.raise_) == [True, False, False] and list(cond.known) == [True, True, False]
    first_half = int(np.argmax(probability[0] >= 0.5))
    assert cond.onset is not None and cond.onset[0] == targets[0, first_half] and np.isnan(cond.onset[1])
    too_old = checks.forecast_exceedance(probability, targets, issued, now=1000.0 + 901, within_s=3600,
                                         max_age_s=900, raise_at=0.5, clear_below=0.3)  # fmt: skip
    assert not too_old.known.any()


def test_flood_tier_raises_at_the_tier_and_clears_only_below_its_probability() -> None:
    tier = np.array([2, 1, 0, 0, 2])  # warning, watch, none (probability still up), none, warning (stale)
    probability = np.array([0.8, 0.4, 0.35, 0.1, 0.9])
    crossing = np.array([1000.0 + 2400, np.nan, np.nan, np.nan, 3000.0])
    issued = np.array([1000.0, 1000.0, 1000.0, 1000.0, 0.0])
    warning = checks.flood_tier(tier, probability, crossing, issued, now=1100.0, max_age_s=900, wanted=2,
                                clear_below=0.3)  # fmt: skip
    assert list(warning.raise_) == [True, False, False, False, False]
    assert list(warning.clear) == [False, False, False, True, False]  # 0.35 holds a warning that was issued
    assert list(warning.known) == [True, True, True, True, False]  # an outlook 1100 s old is no evidence
    assert warning.onset is not None and warning.onset[0] == 3400.0
    watch = checks.flood_tier(tier, probability, crossing, issued, now=1100.0, max_age_s=900, wanted=1,
                              clear_below=0.02)  # fmt: skip
    assert list(watch.raise_) == [True, True, False, False, False]  # a warning is also a watch


def test_offline_backlog_and_clock_on_device_arrays() -> None:
    off = checks.offline(np.array([np.nan, 100.0, 190.0]), now=200.0, grace_s=60)
    assert list(off.raise_) == [False, True, False]
    depths = np.array([[0, 0, 0], [50, 120, 400], [500, 300, 200], [10, 20, np.nan]], dtype=np.float64)
    assert list(checks.backlog(depths, 100).raise_) == [False, True, False, False]
    received = np.array([1000.0, 1001.0, 1000.5, 999.0, 400.0])
    newest = received - 3.0 + np.array([0.0, 0.0, 0.0, -437.0, 0.0])  # the fourth stamps 7 min behind
    offsets = checks.clock_offsets(newest, received, recent_s=600)
    assert np.isnan(offsets[4])  # not heard from lately: not judged
    cond = checks.clock(offsets, np.array([False, False, True, False, False]), 120)
    assert list(cond.raise_) == [False, False, True, True, False]


def test_drift_is_a_departure_from_the_forecast_band_that_peers_do_not_share() -> None:
    observed = np.array([1.0, 1.6, 1.0, 1.0, 50.0, 80.0, 90.0, 60.0])
    lower = np.array([0.8, 0.8, 0.8, np.nan, 40.0, 40.0, 40.0, 40.0])
    upper = np.array([1.2, 1.2, 1.2, 1.2, 60.0, 60.0, 60.0, 60.0])
    kinds = np.array(["water_level"] * 4 + ["traffic_count"] * 4)
    cond = checks.outside_band(observed, lower, upper)
    assert list(cond.raise_) == [False, True, False, False, False, True, True, False]
    assert cond.value[1] == pytest.approx(0.4) and not cond.known[3]
    judged = checks.alone(cond, kinds, shared_fraction=0.2)
    # one water gauge off alone: judged; two of four counters off together: the world, not judged
    assert list(judged.raise_) == [False, True, False, False, False, False, False, False]
    assert not judged.known[4:].any() and judged.known[:3].all()
