"""The conceptual street drainage model: learned from each street's history, checked on cities whose
drains work differently from its own structure, and plausible where a street never flooded."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest

from api.simulation.warning_skill import simulate_city, street_facts
from forecasting.drainage import Floats, Parameters, StreetDrainage, StreetFacts, priors, quasi_normal, step
from forecasting.raingrid import point_rain
from forecasting.river import RiverAtStreets

HISTORY_DAYS = 21.0


class Fitted(NamedTuple):
    model: StreetDrainage
    facts: StreetFacts
    rain: np.ndarray
    river: np.ndarray
    depth: np.ndarray
    first: int  # the scenario's first column: the model saw only the columns before


@pytest.fixture(scope="module")
def fitted() -> Fitted:
    """monsoon-storm's city: the model fitted on the three weeks before the storm, never on the storm."""
    city = simulate_city("monsoon-storm", 48, HISTORY_DAYS, 0, 300.0)
    first = int(HISTORY_DAYS * 288)
    rates = city.series(city.gauges, 12.0)
    rain = point_rain(rates.values, city.xy(city.gauges), city.xy(city.streets))
    river = RiverAtStreets(city.xy(city.streets), city.xy(city.rivers)).fit(city.series(city.rivers)).observed()
    depth = city.series(city.streets).values
    facts = street_facts([city.site(i) for i in city.streets])
    model = StreetDrainage(facts).fit(depth[:, :first], rain[:, :first], river[:, :first], 300.0)
    return Fitted(model, facts, rain, river, depth, first)


def _replay(model: StreetDrainage, facts: StreetFacts, rain: np.ndarray, river: np.ndarray, start: int) -> np.ndarray:
    """Depth (n, T) from ``start`` with the true rain and river, each street's best parameter set, no assimilation."""
    p = model.params.take(np.argmax(model.params.weight, axis=1)[:, None])
    held: Floats = np.zeros((len(facts.crown_m), 1))
    out = []
    for t in range(start - 72, rain.shape[1]):
        held = step(p, held, rain[:, t, None], river[:, t, None], facts.crown_m[:, None], 300.0)
        out.append(np.maximum(held - p.store, 0.0)[:, 0])
    return np.array(out).T[:, 72:]


def test_fitted_on_the_history_it_tells_how_deep_a_storm_floods_each_street(fitted: Fitted) -> None:
    """With the true rain and river, run freely through the storm (no depth readings used), the model
    fitted on the three weeks before gives each street's peak within a few cm, finds the clear floods
    and flags no street that stays dry - for a storm heavier than any in its history."""
    model, facts, rain, river, depth, first = fitted
    truth, said = np.nanmax(depth[:, first:], axis=1), _replay(model, facts, rain, river, first).max(axis=1)
    print(f"\ntrue peaks {np.round(truth, 2)}\nmodel      {np.round(said, 2)}")
    assert np.median(np.abs(said - truth)) < 0.03
    clear, dry = truth > 0.13, truth < 0.07
    assert clear.sum() >= 2 and (said[clear] > 0.10).all() and (said[dry] < 0.10).all()
    assert np.corrcoef(truth, said)[0, 1] > 0.6


def test_a_street_that_never_flooded_still_floods_in_a_big_storm_at_high_tide_and_not_at_low_tide(
    fitted: Fitted,
) -> None:
    model, facts, _, _, depth, first = fitted
    quiet = int(np.argmin(np.nanmax(depth[:, :first], axis=1)))
    assert np.nanmax(depth[quiet, :first]) < 0.10  # this street's history shows no flood
    p = model.params.take(np.argmax(model.params.weight, axis=1)[:, None])
    one = Parameters(*(getattr(p, f)[quiet : quiet + 1] for f in ("gain", "capacity", "block", "soft", "shape",
                                                                   "store", "weight")))  # fmt: skip
    crown = facts.crown_m[quiet : quiet + 1, None]

    def peak(rate_mm_h: float, river_m: float) -> float:
        held: Floats = np.zeros((1, 1))
        deepest = 0.0
        for k in range(36):  # an hour of rain, then two of nothing
            rain_now = rate_mm_h if k < 12 else 0.0
            held = step(one, held, np.array([[rain_now]]), np.array([[river_m]]), crown, 300.0)
            deepest = max(deepest, float(held[0, 0] - one.store[0, 0]))
        return deepest

    high, low = float(facts.crown_m[quiet]) - 0.05, float(facts.crown_m[quiet]) - 1.5
    assert peak(80.0, high) > 0.10  # a cloudburst at high water floods it
    assert peak(10.0, low) < 0.02  # a shower at low water does not
    assert peak(80.0, high) > peak(80.0, low)  # the tide makes it worse


def test_priors_follow_the_registry_and_candidates_cover_them() -> None:
    z = quasi_normal(256, 6)
    assert abs(z.mean()) < 0.1 and 0.9 < z.std() < 1.1
    facts = StreetFacts(np.array([1.4, 1.9]), np.array([30.0, np.nan]), np.array([0.5, np.nan]))
    p = priors(facts, np.broadcast_to(z[None], (2, *z.shape)))
    assert np.median(p.capacity[0]) == pytest.approx(30.0, rel=0.1)  # registered drain capacity
    assert np.median(p.block[0]) == pytest.approx(1.4 + 0.015, abs=0.03)  # near the crown
    assert np.median(p.block[1]) > np.median(p.block[0]) + 0.4  # a higher street blocks at a higher river
    with pytest.raises(ValueError, match="one entry per street"):
        StreetFacts(np.ones(2), np.ones(3), np.ones(2))
    with pytest.raises(RuntimeError, match="fit"):
        _ = StreetDrainage(facts).params
