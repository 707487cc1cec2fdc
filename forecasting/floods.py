"""Street-flood outlook: the chance each street floods in the next hours, when, and the tier it is under.

Puts the pieces together for n streets: the gauges' rain nowcast (``forecasting.nowcast``) gives an
ensemble of rain paths over every street, the river ahead (``forecasting.river``) the tide each
street's drains work against, and the drainage model (``forecasting.drainage``), run from the
water each street holds now, turns them into depth paths:

* ``probability[i, k]``: P(depth > threshold at or before the end of step k), the share of members;
* ``crossing[i]``: the expected time of the first crossing among the members that cross;
* **Flood Warning** when P(crossing within ``warning_within_s``, an hour) reaches
  ``warning_probability``: the nowcast says the street floods within the hour (``TierRules``);
* **Flood Watch** hours ahead when conditions favour flooding: the chance that a storm comes (the
  share of recent days with a heavy rain) and that, were it like the heaviest rains of recent weeks
  (a climatological analog ensemble) and to peak at the window's high water, it would flood the
  street with today's tide and its present state - or that it floods without rain, or the
  nowcast's own 3-hour chance - reaches ``watch_probability``. A spring tide in the evening of the
  wet season makes the usual afternoon storm dangerous; a dry season, a neap tide or a high street
  does not; a king tide floods the lowest streets without rain.

Pure: arrays in, a ``FloodOutlook`` out; the service and ``urbanpulse forecast warnings`` are its shells.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from forecasting.drainage import StreetDrainage, StreetFacts
from forecasting.nowcast import RainNowcast
from forecasting.raingrid import point_rain
from forecasting.river import RiverAtStreets
from forecasting.series import Array, Series

SPIN_UP_S = 6 * 3600.0  # the recent past the drainage state is run through
ANALOG_SCENARIOS = 48  # the heaviest past (gauge, window) rains a watch imagines coming now
HEAVY_MM_H = 25.0  # a storm: some gauge saw this rate
ANALOG_DAYS = 21


class Tier(enum.IntEnum):
    """The flood services' ladder: nothing, a watch (be ready), a warning (act now). Ordered."""

    NONE = 0
    WATCH = 1
    WARNING = 2

    @property
    def label(self) -> str | None:
        match self:
            case Tier.NONE:
                return None
            case Tier.WATCH:
                return "watch"
            case Tier.WARNING:
                return "warning"


@dataclass(frozen=True)
class TierRules:
    """When a street is warned or watched. ``warning_probability`` was chosen on monsoon-storm seeds
    100-109 (never on the seeds 0-9 the benchmarks report): the highest median lead with at most
    30 % false alarms and 90 % of floods warned; 0.5 gave 33 % false alarms there (docs/benchmarks.md)."""

    threshold_m: float = 0.10  # water on the road deep enough to report
    warning_probability: float = 0.6
    warning_within_s: float = 3600.0
    watch_probability: float = 0.05
    warning_clear: float = 0.3  # an issued warning stands until its probability falls below this
    watch_clear: float = 0.02
    watch_within_s: float = 6 * 3600.0

    def warns(self, probability: Array, step_s: float) -> npt.NDArray[np.bool_]:
        """Whether to warn, from P(above the threshold by the end of each step) (n, H) issued now."""
        within = min(probability.shape[1], max(1, round(self.warning_within_s / step_s))) - 1
        warned: npt.NDArray[np.bool_] = probability[:, within] >= self.warning_probability
        return warned


@dataclass(frozen=True)
class FloodOutlook:
    """For n streets from ``start`` (Unix s) on a ``step_s`` axis: ``probability`` (n, H) of being above the
    threshold at or before the end of each step; the warning and watch probabilities, the expected
    crossing (Unix s, NaN when no member crosses) and the tier (``Tier`` values) per street."""

    start: float
    step_s: float
    probability: Array
    warning_probability: Array
    watch_probability: Array
    crossing: Array
    tier: npt.NDArray[np.int64]

    def tiers(self) -> list[Tier]:
        return [Tier(int(t)) for t in self.tier]


class StreetFloods:
    """The outlook for streets at ``streets_km`` with ``facts``, from rain gauges at ``gauges_km`` and
    river gauges at ``rivers_km`` (one local km grid). ``fit`` learns (the nowcast's errors, each
    street's drainage, the tides); ``update`` moves the origin; ``predict`` depends on nothing else."""

    def __init__(
        self,
        streets_km: Array,
        facts: StreetFacts,
        gauges_km: Array,
        rivers_km: Array,
        rules: TierRules = TierRules(),
        members: int = 48,
        seed: int = 0,
        thresholds: Array | None = None,
    ) -> None:
        """``thresholds`` (n_streets,): each street's alarm depth (m); default ``rules.threshold_m`` for all."""
        self.streets_km, self.gauges_km, self.rules, self.seed = streets_km, gauges_km, rules, seed
        self.thresholds = np.full(len(streets_km), rules.threshold_m) if thresholds is None else thresholds
        self.nowcast = RainNowcast(gauges_km, streets_km, members, seed)
        self.drainage = StreetDrainage(facts, seed=seed)
        self.river = RiverAtStreets(streets_km, rivers_km)
        self.members = members
        self._pool: Series | None = None  # past rain at the gauges: the storms a watch imagines
        self._pool_peak: Array = np.zeros(0)  # the wettest gauge at each step of the pool (missing as dry)
        self._heavy: dict[int, Array] = {}  # window steps -> the pool's heaviest (gauge, window) rains
        # origin (Unix s), step, water held per parameter set, the sets the members run (as the storm so far says)
        self._now: tuple[float, float, Array, npt.NDArray[np.int64]] | None = None

    def fit(self, depth: Series, rain: Series, river: Series, horizon: int = 36) -> StreetFloods:
        """Learn from a history: ``depth`` (n_streets, T) m, ``rain`` (n_gauges, T) mm/h, ``river`` (n_rivers, T)
        m, on one time axis."""
        _same_axis(depth, rain, river)
        depth, rain, river = _from_first_reading(depth, rain, river)
        self.river.fit(river)
        at_streets = point_rain(rain.values, self.gauges_km, self.streets_km)
        self.drainage.fit(depth.values, at_streets, self.river.observed(), depth.step_s)
        self.nowcast.fit(rain, horizon)
        self._pool = rain
        self._pool_peak = np.nan_to_num(np.fmax.reduce(rain.values, axis=0)) if rain.n_series else np.zeros(rain.n_time)
        self._heavy = {}
        return self.update(depth, rain, river)

    def update(self, depth: Series, rain: Series, river: Series) -> StreetFloods:
        """Newer data on the same sensors: the origin moves to their end; nothing is refitted."""
        _same_axis(depth, rain, river)
        self.river.update(river)
        self.nowcast.update(rain)
        recent = max(1, int(round(SPIN_UP_S / rain.step_s)))
        at_streets = point_rain(rain.values[:, -recent:], self.gauges_km, self.streets_km)
        river_then = self.river.observed(last=recent)
        held, recently = self.drainage.spin_up(at_streets, river_then, depth.values[:, -recent:], rain.step_s)
        self._now = (rain.end, rain.step_s, held, self.drainage.members(self.members, recently))
        return self

    def predict(self, horizon: int) -> FloodOutlook:
        """The outlook for the ``horizon`` steps after the origin, from the rain nowcast."""
        end, step_s, held, _ = self._origin()
        watch_steps = max(horizon, int(round(self.rules.watch_within_s / step_s)))
        river_ahead = self.river.ahead(watch_steps)
        probability, crossing = self._crossing(held, self.nowcast.predict(horizon).rates, river_ahead[:, :horizon])
        within = min(horizon, max(1, int(round(self.rules.warning_within_s / step_s)))) - 1
        warning = probability[:, within]
        watch = np.maximum(probability[:, -1], self._analog_probability(held, river_ahead, end, watch_steps))
        watching = np.where(watch >= self.rules.watch_probability, Tier.WATCH, Tier.NONE)
        tier = np.where(self.rules.warns(probability, step_s), Tier.WARNING, watching).astype(np.int64)
        return FloodOutlook(end, step_s, probability, warning, watch, crossing, tier)

    def predict_with(self, rain: Array) -> Array:
        """P(depth > threshold at or before the end of each step) (n, H) if ``rain`` (n, M, H) mm/h falls:
        the true future rain gives the ceiling of what a nowcast can do, zeros "no rain forecast"."""
        _, _, held, _ = self._origin()
        probability, _ = self._crossing(held, rain, self.river.ahead(rain.shape[2]))
        return probability

    def _origin(self) -> tuple[float, float, Array, npt.NDArray[np.int64]]:
        if self._now is None:
            raise RuntimeError("call fit() first")
        return self._now

    def _crossing(self, held: Array, rain: Array, river_ahead: Array) -> tuple[Array, Array]:
        """(P of being above the threshold by the end of each step (n, H), expected crossing time (n,))."""
        end, step_s, _, members = self._origin()
        pick = members[:, np.arange(rain.shape[1]) * members.shape[1] // rain.shape[1]]
        depth = self.drainage.run(held, rain, river_ahead, step_s, pick)
        above = np.maximum.accumulate(depth > self.thresholds[:, None, None], axis=2)  # (n, M, H)
        first = np.where(above.any(axis=2), np.argmax(above, axis=2), -1)
        crossers = (first >= 0).sum(axis=1)
        mean_lead = np.where(first >= 0, (first + 1) * step_s, 0.0).sum(axis=1) / np.maximum(crossers, 1)
        crossing: Array = np.where(crossers > 0, end + mean_lead, np.nan)
        probability: Array = above.mean(axis=1)
        return probability, crossing

    def _analog_probability(self, held: Array, river_ahead: Array, now: float, steps: int) -> Array:
        """P(flood within ``steps``) from the weeks before (n_streets,):

        P(a storm) x P(flood | one of the heaviest rains of recent weeks, at high water) + P(no storm) x
        P(flood | no rain). A storm's chance is the share of past days on which some gauge saw
        ``HEAVY_MM_H`` (in the 24 hours from this time of day, as far as the history holds them); the
        heavy rains are the wettest (gauge, window) series of the whole history, each moved to peak
        when the street's river is highest in the window (``at_high_water``) and run from the street's
        present state against today's tide: what would the worst storms of the season do now.

        Neither the storm's day nor its hour is known hours ahead, so both are taken at their worst
        within reason. With the share of the same clock window instead (fewer storm days in 21 days'
        record of evenings) and the storms at their recorded hour, the watch came under 2 hours
        ahead of the floods on monsoon-storm seeds 1, 2 and 103 (40, 45 and 25-40 minutes); chosen
        on seeds 100-104 (every seed's watch 2 hours ahead: 250-360 minutes, 82 false alarms against
        89 before), then run on seeds 0-9 (``docs/benchmarks.md``).
        """
        pool = self._pool
        n = len(self.streets_km)
        if pool is None or pool.n_time < steps:
            return np.zeros(n)
        per_day = int(round(86_400 / pool.step_s))
        now_col = int(round((now - pool.start) / pool.step_s))
        starts = now_col - np.arange(1, ANALOG_DAYS + 1) * per_day
        starts = starts[starts >= 0]
        storm = 0.0
        if len(starts):
            columns = np.minimum(starts[:, None] + np.arange(per_day)[None, :], pool.n_time - 1)  # (D, a day)
            storm = float((self._pool_peak[columns].max(axis=1) >= HEAVY_MM_H).mean())
        heavy = self._heaviest(pool, steps)
        paths = np.concatenate([np.zeros((n, 1, steps)), at_high_water(heavy, river_ahead[:, :steps])], axis=1)
        best = np.argmax(self.drainage.params.weight, axis=1)
        pick = np.repeat(best[:, None], paths.shape[1], axis=1)
        depth = self.drainage.run(held, paths, river_ahead[:, :steps], pool.step_s, pick)
        floods = np.asarray((depth > self.thresholds[:, None, None]).any(axis=2), dtype=np.float64)  # (n, 1 + S)
        result: Array = storm * floods[:, 1:].mean(axis=1) + (1 - storm) * floods[:, 0]
        return result

    def _heaviest(self, pool: Series, steps: int) -> Array:
        """(S, steps) the pool's heaviest non-overlapping (gauge, window) rains, missing as dry; the
        pool is fixed at fit, so each window length is sorted once, not at every issue."""
        if steps not in self._heavy:
            whole = pool.n_time // steps
            windows = np.nan_to_num(pool.values[:, : whole * steps].reshape(pool.n_series * whole, steps))
            self._heavy[steps] = windows[np.argsort(-windows.sum(axis=1))[:ANALOG_SCENARIOS]]
        return self._heavy[steps]


def at_high_water(storms: Array, river_ahead: Array) -> Array:
    """(n, S, T) each storm (S, T) moved so that its peak falls when each street's river (n, T) is
    highest in the window (rain moved out of the window is dropped). A storm's hour within the
    window is not known hours ahead; the watch asks whether the season's storms could flood the
    street today, and they do so at high water, when the drains are blocked."""
    steps = storms.shape[1]
    shift = np.argmax(river_ahead, axis=1)[:, None] - np.argmax(storms, axis=1)[None, :]  # (n, S)
    source = np.arange(steps)[None, None, :] - shift[:, :, None]
    inside = (source >= 0) & (source < steps)
    moved: Array = np.where(inside, storms[np.arange(len(storms))[None, :, None], np.clip(source, 0, steps - 1)], 0.0)
    return moved


def held_on(raised: npt.NDArray[np.bool_], probability: Array, clear_below: float) -> npt.NDArray[np.bool_]:
    """Whether a warning raised where ``raised`` and withdrawn once its ``probability`` falls below
    ``clear_below`` is in force, for issues (n, n_issues) in time order: what the alert rules do with
    the tiers."""
    state = np.zeros(probability.shape[0], dtype=np.bool_)
    out = np.zeros(probability.shape, dtype=np.bool_)
    for j in range(probability.shape[1]):  # issues in time order, vectorised over streets
        state = np.where(state, ~(probability[:, j] < clear_below), raised[:, j])
        out[:, j] = state
    return out


def _from_first_reading(*series: Series) -> tuple[Series, ...]:
    """The histories from the first step at which any of them holds a reading. A service asks for
    weeks of history before its sensors have them (a new city, a demo seeded with a day): the empty
    weeks before would run the drainage model through rain nobody measured and teach it nothing."""
    columns = [np.flatnonzero(np.isfinite(s.values).any(axis=0)) for s in series]
    first = min((int(c[0]) for c in columns if len(c)), default=0)
    return tuple(s.last(s.n_time - first) for s in series)


def _same_axis(*series: Series) -> None:
    first = series[0]
    for other in series[1:]:
        if other.n_time != first.n_time or other.start != first.start or other.step_s != first.step_s:
            raise ValueError("depth, rain and river histories must share one time axis")
