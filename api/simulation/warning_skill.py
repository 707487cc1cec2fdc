"""Flood-warning skill on a simulated scenario: would the water-level forecasts have warned in time?

Simulates ``history_days`` of the city before the scenario (the model learns from them), then
issues ``P(level > alarm level within the horizon)`` at every step of the scenario's window, as the
forecast service does between refits, and scores the warnings against the simulator's ground
truth: street floods (water deeper than 10 cm on the road) and canal high water (alarm level I).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from edge.protocol import Kind
from forecasting.backtest import warning_probabilities
from forecasting.metrics import EventSkill, event_skill
from forecasting.series import Series
from forecasting.water import WaterLevelModel, nearest_gauges
from simulators.city import simulate
from simulators.scenarios import scenario_config
from simulators.sites import CANAL_ALARM_M, STREET_FLOOD_DEPTH_M, SiteKind, city_sites, grid_km

EVENT_OF_KIND = {SiteKind.STREET: "flood", SiteKind.CANAL: "high_water"}


@dataclass(frozen=True)
class WarningReport:
    scenario: str
    horizon_s: float
    skill: dict[tuple[str, float], EventSkill]  # (event kind, warning probability) -> skill

    def table(self) -> str:
        lines = [f"{'events':<12}{'P >=':>6}{'events':>8}{'hits':>6}{'false':>7}{'hit rate':>10}"
                 f"{'FAR':>7}{'median lead':>13}{'leads (min)':>14}"]  # fmt: skip
        for (kind, probability), s in sorted(self.skill.items()):
            leads = ",".join(f"{t / 60:.0f}" for t in sorted(s.lead_times_s))
            lines.append(
                f"{kind:<12}{probability:>6.2f}{s.hits + s.misses:>8}{s.hits:>6}{s.false_alarms:>7}"
                f"{s.hit_rate:>10.0%}{s.false_alarm_ratio:>7.0%}{s.median_lead_s / 60:>10.0f} min  {leads}"
            )
        return "\n".join(lines)


def score_scenario(
    scenario: str = "monsoon-storm",
    n_sites: int = 48,
    history_days: float = 21.0,
    seed: int = 0,
    step_s: float = 300.0,
    horizon_s: float = 3 * 3600.0,
    window_h: tuple[float, float] | None = None,
    probabilities: Sequence[float] = (0.3, 0.5, 0.7),
    progress: Callable[[str], None] | None = None,
) -> WarningReport:
    """Warnings issued every step of the scenario (or of ``window_h`` hours into it), scored per event kind."""
    say = progress or (lambda _: None)
    sites = tuple(city_sites(n_sites, seed))
    config = scenario_config(scenario, sites, step_s=step_s, seed=seed)
    back = history_days * 86_400.0
    scenario_start, scenario_end = config.start, config.start + config.duration_s
    say(f"simulating {history_days:g} days of history and the {scenario} scenario ({n_sites} sites)")
    sim = simulate(dataclasses.replace(config, start=config.start - back, duration_s=config.duration_s + back))
    kinds = [s.kind for s in sim.sensors]
    water_rows = [i for i, k in enumerate(kinds) if k == Kind.WATER_LEVEL]
    rain_rows = [i for i, k in enumerate(kinds) if k == Kind.RAINFALL]
    xy = grid_km(list(sites))
    water_sites = [sites[sim.sensors[i].site_index] for i in water_rows]
    water_xy = xy[[sim.sensors[i].site_index for i in water_rows]]
    rain_xy = xy[[sim.sensors[i].site_index for i in rain_rows]]
    water = Series(float(sim.times[0]), step_s, sim.observed[water_rows])
    rain = Series(float(sim.times[0]), step_s, sim.observed[rain_rows])
    thresholds = np.array([STREET_FLOOD_DEPTH_M if s.kind == SiteKind.STREET else CANAL_ALARM_M for s in water_sites])

    lo, hi = (scenario_start, scenario_end) if window_h is None else (
        scenario_start + 3600.0 * window_h[0], scenario_start + 3600.0 * window_h[1])  # fmt: skip
    horizon = round(horizon_s / step_s)
    origins = [int(o) for o in np.flatnonzero((sim.times >= lo) & (sim.times < hi)) if o + horizon <= len(sim.times)]
    say(f"issuing warnings at {len(origins)} origins for {len(water_rows)} water sensors")
    model = WaterLevelModel(rain, nearest_gauges(water_xy, rain_xy), water_xy, horizon_s=horizon_s)
    issued = warning_probabilities(model, water, origins, horizon, thresholds)
    issue_times = sim.times[origins]

    events: dict[str, list[tuple[float, float]]] = {}
    for e in sim.events:
        if issue_times[0] < e.start <= issue_times[-1]:
            events.setdefault(f"{e.kind}/{e.site_id}", []).append((e.start, e.end))
    skill: dict[tuple[str, float], EventSkill] = {}
    for probability in probabilities:
        for row, site in enumerate(water_sites):
            kind = EVENT_OF_KIND.get(site.kind)
            if kind is None:
                continue
            warned = issue_times[issued[row] >= probability]
            found = event_skill(events.get(f"{kind}/{site.site_id}", []), warned, horizon_s, step_s)
            key = (kind, probability)
            skill[key] = skill[key] + found if key in skill else found
    return WarningReport(scenario, horizon_s, skill)
