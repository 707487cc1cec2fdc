"""The street-flood outlook: watch and warning tiers scored on simulated scenarios (the suite's honest
scenario checks; the seed sweeps are in ``urbanpulse forecast warnings --seeds`` and docs/benchmarks.md)."""

from __future__ import annotations

import numpy as np

from api.simulation.warning_skill import score_scenario, simulate_city, street_facts
from forecasting.floods import StreetFloods, Tier, TierRules, at_high_water, held_on
from forecasting.series import Series


def test_an_issued_warning_stands_until_its_probability_falls_below_the_clear_level() -> None:
    p = np.array([[0.2, 0.6, 0.4, 0.35, 0.25, 0.55], [0.49, 0.5, 0.1, 0.0, 0.0, 0.0]])
    assert held_on(p >= 0.5, p, 0.3).tolist() == [[False, True, True, True, False, True],
                                                  [False, True, False, False, False, False]]  # fmt: skip
    assert [t.label for t in Tier] == [None, "watch", "warning"] and Tier.WARNING > Tier.WATCH
    paths = np.array([[0.0] * 11 + [0.6] * 25, [0.59] * 36, [0.9] * 36])  # P(flooded by each 5-minute step)
    paths[2, :12] = 0.0  # ... this one only after the hour
    assert TierRules().warns(paths, 300.0).tolist() == [True, False, False]  # read at the hour


def test_a_watch_imagines_the_seasons_storms_peaking_at_each_streets_high_water() -> None:
    storms = np.array([[0.0, 1, 5, 1, 0, 0], [3.0, 0, 0, 0, 0, 0]])
    river = np.array([[0.0, 1, 2, 3, 2, 1], [5.0, 4, 3, 2, 1, 0]])  # high water late, then at once
    moved = at_high_water(storms, river)
    assert moved[0].tolist() == [[0, 0, 1, 5, 1, 0], [0, 0, 0, 3, 0, 0]]
    assert moved[1].tolist() == [[5, 1, 0, 0, 0, 0], [3, 0, 0, 0, 0, 0]]  # what moves out of the window is gone


def test_a_king_tide_is_watched_hours_ahead_and_warned_an_hour_ahead_without_any_rain() -> None:
    report = score_scenario("king-tide", history_days=21, window_h=(3.0, 12.0), water_model=False, rain_skill=False)
    print("\n" + report.table())
    warning, watch = report.tiers["warning"], report.tiers["watch"]
    assert warning.hits + warning.misses >= 5 and warning.hit_rate == 1.0 and warning.false_alarm_ratio <= 0.3
    assert warning.median_lead_s >= 45 * 60  # the tide is known: the warning comes as early as its hour allows
    assert watch.hit_rate == 1.0 and min(watch.lead_times_s) >= 2 * 3600


def test_monsoon_storm_warnings_come_ahead_of_the_water_between_no_rain_forecast_and_the_true_rain() -> None:
    """One storm (seed 0), the evening it meets the high tide: the nowcast's warnings come ahead of the
    floods, where the same drainage model without a rain forecast warns of none; the true rain bounds it."""
    report = score_scenario("monsoon-storm", history_days=21, window_h=(4.0, 11.0), water_model=False,
                            rain_skill=False)  # fmt: skip
    print("\n" + report.table())
    nowcast, ceiling, blind = (report.tiers[k] for k in ("warning", "warning, true rain", "warning, no rain"))
    assert nowcast.hits + nowcast.misses >= 5
    assert nowcast.hit_rate >= 0.8 and nowcast.false_alarm_ratio <= 0.5
    assert nowcast.median_lead_s >= 20 * 60 and blind.hits == 0  # water follows rain that has not fallen yet
    assert ceiling.median_lead_s >= nowcast.median_lead_s - 10 * 60
    assert report.tiers["watch"].median_lead_s >= 2 * 3600


def test_weeks_of_history_before_the_first_reading_change_nothing() -> None:
    """A service asks for weeks of history its new sensors do not have yet (the demo seeds a day): the
    empty weeks in front are no evidence, so the outlook is the one fitted on the readings alone
    (run through them, the drainage model learned from rain nobody measured and warned every street)."""
    city = simulate_city("monsoon-storm", 16, 2.0, 0, 300.0)
    end = int(2.0 * 288) + 8 * 12  # 20:00 on the storm's evening
    empty = 10 * 288

    def inputs(pad: int) -> tuple[Series, Series, Series]:
        def cut(s: Series) -> Series:
            values = np.concatenate([np.full((s.n_series, pad), np.nan), s.values[:, :end]], axis=1)
            return Series(s.start - pad * s.step_s, s.step_s, values)

        return cut(city.series(city.streets)), cut(city.series(city.gauges, 12.0)), cut(city.series(city.rivers))

    def outlook(pad: int) -> tuple[np.ndarray, np.ndarray]:
        facts = street_facts([city.site(i) for i in city.streets])
        model = StreetFloods(city.xy(city.streets), facts, city.xy(city.gauges), city.xy(city.rivers))
        said = model.fit(*inputs(pad), horizon=36).predict(36)
        return said.probability, said.watch_probability

    alone, padded = outlook(0), outlook(empty)
    assert alone[0].max() > 0.5  # a storm evening: the check compares outlooks that say something
    np.testing.assert_allclose(padded[0], alone[0])
    np.testing.assert_allclose(padded[1], alone[1])
