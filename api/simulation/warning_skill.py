"""Flood-warning skill on a simulated scenario: would the forecasts have warned in time?

Simulates ``history_days`` of the city before the scenario (the models learn from them), then
issues forecasts at every 5-minute step of the scenario's window, as the forecast service does
between refits, and scores them against the simulator's ground truth:

* **street floods** (water deeper than 10 cm on the road) by the street-flood outlook
  (``forecasting.floods``): the *Flood Warning* (P(flood within the hour) >= 0.6, withdrawn below
  0.3, as the alert rules issue it; scored up to an hour ahead) and the *Flood Watch* (scored up
  to 6 hours ahead); and bounds on the same runs - the warning with the true future rain (the
  ceiling of any rain nowcast), with the true rain of the next 30 or 45 minutes only (what a
  perfect nowcast of a network that sees storms that far out could do) and with no rain at all (no
  rain forecast);
* **today's model**, the water-level regression (``forecasting.water``), for street floods and
  canal high water (alarm level I): P(level > alarm level within 3 h) at several probabilities;
* **the rain nowcast** at the gauges: POD, FAR and CSI at 10 and 25 mm/h, 15/30/60 minutes ahead,
  next to Eulerian and Lagrangian persistence.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.protocol import Kind
from forecasting.backtest import warning_probabilities
from forecasting.drainage import StreetFacts
from forecasting.floods import StreetFloods, TierRules, held_on
from forecasting.metrics import Contingency, EventSkill, contingency, event_skill
from forecasting.nowcast import RainNowcast
from forecasting.rain import nearest_gauges
from forecasting.raingrid import point_rain
from forecasting.series import Array, Series
from forecasting.water import WaterLevelModel
from simulators.city import Simulation, simulate
from simulators.scenarios import scenario_config
from simulators.sites import CANAL_ALARM_M, STREET_FLOOD_DEPTH_M, Site, SiteKind, city_sites, drainage_facts, grid_km
from simulators.water import Drainage

EVENT_OF_KIND = {SiteKind.STREET: "flood", SiteKind.CANAL: "high_water"}
NOWCAST_STEPS = 36  # 3 h of 5-minute steps
WATCH_LEAD_S = 6 * 3600.0
RAIN_THRESHOLDS_MM_H = (10.0, 25.0)
RAIN_LEADS_MIN = (15, 30, 60)
FORESIGHTS_MIN = (30, 45)  # the "true rain 30'" and "45'" bounds know the rain this far ahead, none after
TIERS = ("warning", "warning, true rain", *(f"warning, true rain {m}'" for m in FORESIGHTS_MIN), "warning, no rain",
         "watch")  # fmt: skip


@dataclass(frozen=True)
class WarningReport:
    scenario: str
    seed: int
    horizon_s: float
    skill: dict[tuple[str, float], EventSkill]  # today's model: (event kind, warning probability) -> skill
    tiers: dict[str, EventSkill]  # street floods by the outlook, per ``TIERS``
    rain: dict[tuple[float, int, str], Contingency]  # (mm/h, lead min, method) -> counts at the gauges

    def table(self) -> str:
        lines = [f"{'events':<30}{'P >=':>6}{'events':>8}{'hits':>6}{'false':>7}{'hit rate':>10}"
                 f"{'FAR':>7}{'median lead':>13}{'leads (min)':>14}"]  # fmt: skip
        rules = TierRules()
        rows = [(f"flood: {tier}", rules.watch_probability if tier == "watch" else rules.warning_probability, s)
                for tier, s in self.tiers.items()]  # fmt: skip
        rows += [(f"{kind}: water model", p, s) for (kind, p), s in sorted(self.skill.items())]
        for name, probability, s in rows:
            leads = ",".join(f"{t / 60:.0f}" for t in sorted(s.lead_times_s))
            lines.append(
                f"{name:<30}{probability:>6.2f}{s.hits + s.misses:>8}{s.hits:>6}{s.false_alarms:>7}"
                f"{s.hit_rate:>10.0%}{s.false_alarm_ratio:>7.0%}{s.median_lead_s / 60:>10.0f} min  {leads}"
            )
        if self.rain:
            lines += ["", f"{'rain at the gauges':<30}{'mm/h':>6}{'lead':>6}{'POD':>7}{'FAR':>7}{'CSI':>7}"]
            for (threshold, lead, method), c in sorted(self.rain.items()):
                lines.append(f"{method:<30}{threshold:>6.0f}{lead:>4.0f}'{c.pod:>7.2f}{c.far:>7.2f}{c.csi:>7.2f}")
        return "\n".join(lines)


@dataclass(frozen=True)
class _City:
    """A simulated history + scenario, cut into the batches the models read (rows of ``sim``)."""

    sim: Simulation
    sites: tuple[Site, ...]
    water: list[int]
    streets: list[int]
    rivers: list[int]
    gauges: list[int]

    def xy(self, rows: list[int]) -> Array:
        at: Array = grid_km(list(self.sites))[[self.sim.sensors[i].site_index for i in rows]]
        return at

    def site(self, row: int) -> Site:
        return self.sites[self.sim.sensors[row].site_index]

    def series(self, rows: list[int], scale: float = 1.0) -> Series:
        return Series(float(self.sim.times[0]), float(self.sim.times[1] - self.sim.times[0]),
                      self.sim.observed[rows] * scale)  # fmt: skip


def simulate_city(
    scenario: str, n_sites: int, history_days: float, seed: int, step_s: float, drainage: Drainage | None = None
) -> _City:
    """The scenario after ``history_days`` of the same city; ``drainage``: another city's drains (simulators.water)."""
    sites = tuple(city_sites(n_sites, seed))
    config = scenario_config(scenario, sites, step_s=step_s, seed=seed)
    if drainage is not None:
        config = dataclasses.replace(config, drainage=drainage)
    back = history_days * 86_400.0
    sim = simulate(dataclasses.replace(config, start=config.start - back, duration_s=config.duration_s + back))
    kind = [s.kind for s in sim.sensors]
    site_kind = [sites[s.site_index].kind for s in sim.sensors]
    water = [i for i, k in enumerate(kind) if k == Kind.WATER_LEVEL]
    streets = [i for i in water if site_kind[i] == SiteKind.STREET]
    rivers = [i for i in water if site_kind[i] == SiteKind.CANAL]
    return _City(sim, sites, water, streets, rivers, [i for i, k in enumerate(kind) if k == Kind.RAINFALL])


def street_facts(sites: Sequence[Site]) -> StreetFacts:
    """What a city registers of its streets (``devstack.stack.site_details`` writes the same into the registry)."""
    facts = [drainage_facts(s) for s in sites]
    return StreetFacts(*(np.array([f.get(k, np.nan) for f in facts]) for k in ("crown_m", "drain_mm_h", "river_km")))


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
    water_model: bool = True,
    rain_skill: bool = True,
    drainage: Drainage | None = None,
    outlook: bool = True,
) -> WarningReport:
    """Forecasts issued every step of the scenario (or of ``window_h`` hours into it), scored on its truth."""
    say = progress or (lambda _: None)
    say(f"simulating {history_days:g} days of history and the {scenario} scenario ({n_sites} sites, seed {seed})")
    city = simulate_city(scenario, n_sites, history_days, seed, step_s, drainage)
    sim = city.sim
    start = sim.config.start + history_days * 86_400.0
    lo, hi = (start, start + sim.config.duration_s - history_days * 86_400.0) if window_h is None else (
        start + 3600.0 * window_h[0], start + 3600.0 * window_h[1])  # fmt: skip
    horizon = round(horizon_s / step_s)
    origins = [int(o) for o in np.flatnonzero((sim.times >= lo) & (sim.times < hi))
               if o + max(horizon, NOWCAST_STEPS) <= len(sim.times)]  # fmt: skip
    issue_times = sim.times[origins]
    events: dict[str, list[tuple[float, float]]] = {}
    for e in sim.events:
        if issue_times[0] < e.start <= issue_times[-1]:
            events.setdefault(f"{e.kind}/{e.site_id}", []).append((e.start, e.end))

    tiers: dict[str, EventSkill] = {}
    if outlook:
        say(f"street-flood outlook at {len(origins)} origins for {len(city.streets)} streets")
        tiers = _street_tiers(city, origins, events, step_s)
    skill: dict[tuple[str, float], EventSkill] = {}
    if water_model:
        say(f"today's water-level model at {len(origins)} origins for {len(city.water)} water sensors")
        skill = _water_model(city, origins, horizon, horizon_s, step_s, events, probabilities)
    if rain_skill:
        say(f"rain nowcast at {len(origins)} origins for {len(city.gauges)} gauges")
    rain = _rain_skill(city, origins) if rain_skill else {}
    return WarningReport(scenario, seed, horizon_s, skill, tiers, rain)


def summary(reports: Sequence[WarningReport]) -> str:
    """One line per seed and a total per tier: hits/events, false alarms, FAR, median lead - every seed shown."""
    names = list(reports[0].tiers) + [f"{kind}: water model" for kind, p in reports[0].skill if p == 0.5]
    head = f"{'':<30}" + "".join(f"{'seed ' + str(r.seed):>17}" for r in reports) + f"{'all seeds':>19}"
    lines = [f"{reports[0].scenario}: hits/events, false alarms, median lead (min)", head]
    for name in names:
        cells, total = [], EventSkill(0, 0, 0, ())
        for r in reports:
            s = r.tiers.get(name) or r.skill.get((name.split(":")[0], 0.5), EventSkill(0, 0, 0, ()))
            total += s
            cells.append(_cell(s))
        lines.append(f"{name:<30}" + "".join(f"{c:>17}" for c in cells) + f"{_cell(total):>19}"
                     + f"   HR {total.hit_rate:.0%} FAR {total.false_alarm_ratio:.0%}")  # fmt: skip
    return "\n".join(lines)


def _cell(s: EventSkill) -> str:
    lead = f"{s.median_lead_s / 60:.0f}" if s.lead_times_s else "-"
    return f"{s.hits}/{s.hits + s.misses} {s.false_alarms}fa {lead}'"


def _street_tiers(
    city: _City, origins: list[int], events: dict[str, list[tuple[float, float]]], step_s: float
) -> dict[str, EventSkill]:
    rules = TierRules()
    rates = city.series(city.gauges, 3600.0 / step_s)  # mm per step -> mm/h
    depth, river = city.series(city.streets), city.series(city.rivers)
    first = origins[0]

    def upto(s: Series, end: int) -> Series:
        return Series(s.start, s.step_s, s.values[:, :end])

    facts = street_facts([city.site(i) for i in city.streets])
    outlook = StreetFloods(city.xy(city.streets), facts, city.xy(city.gauges), city.xy(city.rivers), rules)
    outlook.fit(upto(depth, first), upto(rates, first), upto(river, first), NOWCAST_STEPS)
    true_rain = point_rain(rates.values, city.xy(city.gauges), city.xy(city.streets))
    no_rain = np.zeros((len(city.streets), 1, NOWCAST_STEPS))
    foresight = {m: (np.arange(NOWCAST_STEPS) < round(60 * m / step_s)).astype(np.float64) for m in FORESIGHTS_MIN}
    within = round(rules.warning_within_s / step_s) - 1
    shape = (len(city.streets), len(origins))
    issued = {tier: np.empty(shape) for tier in TIERS}  # the probability a tier is held on by
    raised = {tier: np.empty(shape, dtype=np.bool_) for tier in TIERS}
    for j, origin in enumerate(origins):  # issue times, as the service would; each vectorised over streets
        outlook.update(upto(depth, origin), upto(rates, origin), upto(river, origin))
        result = outlook.predict(NOWCAST_STEPS)
        truth = true_rain[:, None, origin : origin + NOWCAST_STEPS]
        paths = {"warning": result.probability, "warning, true rain": outlook.predict_with(truth),
                 "warning, no rain": outlook.predict_with(no_rain)}  # fmt: skip
        paths |= {f"warning, true rain {m}'": outlook.predict_with(truth * f) for m, f in foresight.items()}
        for tier, path in paths.items():  # every bound issued by the same rule as the warning
            issued[tier][:, j], raised[tier][:, j] = path[:, within], rules.warns(path, step_s)
        issued["watch"][:, j] = result.watch_probability
        raised["watch"][:, j] = result.watch_probability >= rules.watch_probability
    times = city.sim.times[origins]
    found: dict[str, EventSkill] = {}
    for tier, probability in issued.items():
        watch = tier == "watch"
        on = held_on(raised[tier], probability, rules.watch_clear if watch else rules.warning_clear)
        found[tier] = _skill(city, city.streets, "flood", on, times, events,
                             WATCH_LEAD_S if watch else rules.warning_within_s, step_s)  # fmt: skip
    return found


def _skill(
    city: _City,
    rows: list[int],
    kind: str,
    on: npt.NDArray[np.bool_],
    times: Array,
    events: dict[str, list[tuple[float, float]]],
    max_lead_s: float,
    step_s: float,
) -> EventSkill:
    total = EventSkill(0, 0, 0, ())
    for k, row in enumerate(rows):
        total += event_skill(events.get(f"{kind}/{city.site(row).site_id}", []), times[on[k]], max_lead_s, step_s)
    return total


def _water_model(
    city: _City,
    origins: list[int],
    horizon: int,
    horizon_s: float,
    step_s: float,
    events: dict[str, list[tuple[float, float]]],
    probabilities: Sequence[float],
) -> dict[tuple[str, float], EventSkill]:
    water_xy = city.xy(city.water)
    thresholds = np.array([STREET_FLOOD_DEPTH_M if city.site(i).kind == SiteKind.STREET else CANAL_ALARM_M
                           for i in city.water])  # fmt: skip
    model = WaterLevelModel(
        city.series(city.gauges), nearest_gauges(water_xy, city.xy(city.gauges)), water_xy, horizon_s=horizon_s
    )
    issued = warning_probabilities(model, city.series(city.water), origins, horizon, thresholds)
    times = city.sim.times[origins]
    skill: dict[tuple[str, float], EventSkill] = {}
    for probability in probabilities:
        for site_kind, kind in EVENT_OF_KIND.items():
            rows = [k for k, i in enumerate(city.water) if city.site(i).kind == site_kind]
            on = issued[rows] >= probability
            skill[(kind, probability)] = _skill(city, [city.water[k] for k in rows], kind, on, times, events,
                                                horizon_s, step_s)  # fmt: skip
    return skill


def _rain_skill(city: _City, origins: list[int]) -> dict[tuple[float, int, str], Contingency]:
    """The nowcast at the gauges (P >= 0.5) against Eulerian and Lagrangian persistence."""
    step_s = float(city.sim.times[1] - city.sim.times[0])
    rates = city.series(city.gauges, 3600.0 / step_s)
    xy = city.xy(city.gauges)
    steps = {lead: max(1, round(lead * 60 / step_s)) for lead in RAIN_LEADS_MIN}
    longest = max(steps.values())
    nowcast = RainNowcast(xy, xy).fit(Series(rates.start, step_s, rates.values[:, : origins[0]]), longest)
    said: dict[tuple[float, int, str], list[npt.NDArray[np.bool_]]] = {}
    seen: dict[int, list[Array]] = {lead: [] for lead in steps}
    for origin in origins:  # issue times; each vectorised over gauges and members
        nowcast.update(Series(rates.start, step_s, rates.values[:, :origin]))
        ensemble = nowcast.predict(longest)
        last = rates.values[:, origin - 1]
        for lead, k in steps.items():
            seen[lead].append(rates.values[:, origin + k - 1])
            for threshold in RAIN_THRESHOLDS_MM_H:
                for method, yes in (("nowcast", ensemble.exceedance(threshold)[:, k - 1] >= 0.5),
                                    ("Lagrangian persistence", ensemble.lagrangian[:, k - 1] > threshold),
                                    ("Eulerian persistence", np.nan_to_num(last) > threshold)):  # fmt: skip
                    said.setdefault((threshold, lead, method), []).append(yes)
    return {key: contingency(np.stack(yes), np.stack(seen[key[1]]), key[0]) for key, yes in said.items()}
