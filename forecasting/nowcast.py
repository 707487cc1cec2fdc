"""Rain nowcast from the gauge network: where the storm is going, and an ensemble of rain paths.

Radar nowcasting (pysteps, rainymotion) moves the observed rain field along an estimated motion
and lets it grow or decay; this does the same with the rain gauges as the observation:

* **Field.** The gauges' rates are interpolated onto a 1 km grid (``forecasting.raingrid``) for
  each 5-minute frame of the last hour.
* **Motion.** Each candidate velocity (0-50 km/h, 16 directions) is scored by how well it would
  have predicted the gauges' own recent readings from the field 10-30 minutes earlier moved along
  it (Lagrangian persistence on the recent past, on a log scale). The scores are averaged over the
  gauges near each target (within about 12 km, so two storms moving differently each keep their
  own motion) and turned into weights: the motion is uncertain where the evidence is thin.
* **Growth and decay.** The last 15 minutes' change along the motion at the gauges near a target
  (a cell building or raining out), carried on for half an hour.
* **Ensemble.** Each member takes a velocity from the weights (plus a perturbation of 3 km/h and
  15 % of the speed, growing with lead time, as pysteps perturbs its motion), moves the current
  field along it and scales it by the lead's calibrated bias, the growth, and a lead-correlated
  lognormal noise. Bias and noise per lead are learned in ``fit`` from the history's own
  Lagrangian-persistence errors.

Vectorised over targets, members, leads and candidate motions; the only Python loops are over a
handful of lags and, in ``fit``, over calibration origins (moments, not sensors). What a gauge
network cannot see - a cell born where no gauge is, or right over the street - is said in
docs/forecasting.md; a radar field would enter as the map instead of the gauges' interpolation.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from forecasting.raingrid import Grid, coverage, rain_map, read_map
from forecasting.series import Array, Series

SPEEDS_KM_H = (5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0)  # plus standing still
DIRECTIONS = 16
LAGS_MIN = (10.0, 15.0, 20.0, 30.0)  # a motion is judged by how it would have moved rain this far ahead
WINDOW_MIN = 60.0  # recent readings the motion is judged on
MOTION_KM = 12.0  # a target's motion is judged by the gauges within about this distance
OVERALL_WEIGHT = 1.0  # ... and by the whole network's, as much as by one nearby gauge's: storms share the wind
TEMPERATURE = 0.1  # a motion scoring this many sds (over the candidates) worse than the best weighs 1/e as much
GROWTH_LAG_MIN = 15.0
GROWTH_HORIZON_MIN = 30.0  # recent decay is carried on this long, then held
MAX_DECAY_PER_H = 2.0  # log-rate per hour
WET_MM_H = 0.5
SPREAD_KM_H = 3.0  # member velocity perturbation: this plus SPREAD_SHARE of the speed
SPREAD_SHARE = 0.15
NOISE_CORRELATION = 0.9  # of a member's intensity noise from one lead to the next
MEMBERS = 48
CALIBRATION_ORIGINS = 48
CALIBRATION_GAUGES = 400  # persistence errors are learned at most at this many gauges (a fixed subset)
CALIBRATION_MIN_MM_H = 2.0  # persistence errors are learned where the moved rain is at least this heavy
MAX_TRAINING_GAUGES = 250  # motion is judged on at most this many wet gauges (a random, fixed subset)
SEEN = 0.5  # gauge weight (coverage) above which the map says what falls there
BEYOND_MAX_H = 1.0  # a member assumes rain seen at the network's edge goes on upwind for up to this long
PATH_SAMPLES = 6  # points along each back-trajectory where the network's edge is looked for


def candidate_velocities() -> Array:
    """(V, 2) km/h east/north: standing still, then every speed in ``DIRECTIONS`` directions."""
    angle = 2 * np.pi * np.arange(DIRECTIONS) / DIRECTIONS
    speeds = np.array(SPEEDS_KM_H)
    moving = np.stack([np.outer(speeds, np.sin(angle)).ravel(), np.outer(speeds, np.cos(angle)).ravel()], axis=1)
    return np.vstack([np.zeros((1, 2)), moving])


@dataclass(frozen=True)
class Calibration:
    """What ``fit`` learned from the history: per lead step (1..H), the log bias and log spread of the
    moved field against what fell, and the usual storm motion (the prior when nothing rains now)."""

    bias: Array  # (H,)
    spread: Array  # (H,)
    prior_motion: Array  # (2,) km/h

    @classmethod
    def default(cls, horizon: int, step_s: float) -> Calibration:
        """Without history: rain decays with a 90-minute e-folding time and grows uncertain with lead."""
        lead_h = step_s * np.arange(1, horizon + 1) / 3600.0
        return cls(np.asarray(-lead_h / 1.5), np.asarray(np.minimum(0.3 + 0.5 * lead_h, 1.2)), np.zeros(2))

    def at(self, horizon: int) -> tuple[Array, Array]:
        """(bias, spread) for leads 1..horizon, the last learned value held beyond what was learned."""
        k = np.minimum(np.arange(horizon), len(self.bias) - 1)
        return self.bias[k], self.spread[k]


@dataclass(frozen=True)
class RainEnsemble:
    """Rain paths at the targets: ``rates`` (n_targets, members, horizon) mm/h for the steps after ``start``.

    ``lagrangian`` moves the current field along the most likely motion without growth, decay or
    noise; ``eulerian`` holds the current rate: the two simple baselines every nowcast is scored
    against. ``motion`` (n_targets, 2) km/h is the most likely storm motion at each target.
    """

    start: float
    step_s: float
    rates: Array
    lagrangian: Array
    eulerian: Array
    motion: Array

    def exceedance(self, threshold_mm_h: float) -> Array:
        """P(rate > threshold) per target and lead: the share of members above it."""
        share: Array = (self.rates > threshold_mm_h).mean(axis=1)
        return share


@dataclass(frozen=True)
class _Now:
    """The recent past as the forecast reads it."""

    end: float  # Unix s one step past the latest frame
    step_s: float
    maps: Array  # (frames, ny, nx)
    weights: Array  # (n_targets, V) motion weights
    growth: Array  # (n_targets,) log-rate per hour


class RainNowcast:
    """Gauges in, rain paths at the targets out. ``fit(history)`` learns the persistence errors and the
    usual motion; ``update(newer history)`` moves the origin; ``predict(horizon)`` depends on nothing
    else (members are drawn from a fixed seed)."""

    def __init__(self, gauges_km: Array, targets_km: Array, members: int = MEMBERS, seed: int = 0) -> None:
        """``gauges_km`` (n_gauges, 2) and ``targets_km`` (n_targets, 2): positions on one local km grid."""
        self.gauges_km = np.asarray(gauges_km, dtype=np.float64)
        self.targets_km = np.asarray(targets_km, dtype=np.float64)
        self.members, self.seed = members, seed
        self.grid = Grid.around(self.gauges_km, self.targets_km)
        self.seen = coverage(self.gauges_km, self.grid)[None] >= SEEN  # (1, ny, nx)
        self.velocities = candidate_velocities()
        self._calibration: Calibration | None = None
        self._now: _Now | None = None

    def fit(self, rain: Series, horizon: int = 36) -> RainNowcast:
        """Learn from ``rain`` (n_gauges, n_time) mm/h: bias and spread of the moved field per lead step
        (up to ``horizon``) and the usual motion; then take its end as the origin."""
        self._calibration = self._calibrate(rain, horizon)
        return self.update(rain)

    def update(self, rain: Series) -> RainNowcast:
        """Take the end of ``rain`` (same gauges, mm/h) as the origin; what was learned is kept."""
        if rain.n_series != len(self.gauges_km):
            raise ValueError(f"nowcast for {len(self.gauges_km)} gauges given {rain.n_series} rain series")
        frames = _frames_needed(rain.step_s)
        recent = rain.values[:, -frames:]
        if recent.shape[1] < frames:
            recent = np.concatenate([np.full((rain.n_series, frames - recent.shape[1]), np.nan), recent], axis=1)
        prior = self._calibration.prior_motion if self._calibration is not None else np.zeros(2)
        maps, weights, growth = self._analyse(recent, rain.step_s, self.targets_km, prior)
        self._now = _Now(rain.end, rain.step_s, maps, weights, growth)
        return self

    def predict(self, horizon: int) -> RainEnsemble:
        now = self._now
        if now is None:
            raise RuntimeError("call fit(rain) before predict()")
        calibration = self._calibration or Calibration.default(horizon, now.step_s)
        bias, spread = calibration.at(horizon)
        rng = np.random.default_rng(self.seed)
        n, m = len(self.targets_km), self.members
        lead_h = np.asarray(now.step_s * np.arange(1, horizon + 1) / 3600.0, dtype=np.float64)  # (H,)
        pick = _quantile_pick(now.weights, (np.arange(m) + rng.random(m)) / m)  # (n, M) coherent across targets
        v = self.velocities[pick]  # (n, M, 2)
        speed = np.hypot(v[..., 0], v[..., 1])
        nudge = rng.normal(0.0, 1.0, (m, 2))[None] * (SPREAD_KM_H + SPREAD_SHARE * speed)[..., None]
        moved = v + nudge
        last = now.maps.shape[0] - 1
        beyond_h = rng.uniform(0.0, BEYOND_MAX_H, m)  # how far upwind of the network each member lets rain go on
        field = self._upwind(now.maps[last : last + 1], moved, lead_h, beyond_h)  # (n, M, H)
        noise = _ar1(rng, m, horizon, NOISE_CORRELATION)  # (M, H)
        grown = now.growth[:, None] * np.minimum(lead_h, GROWTH_HORIZON_MIN / 60.0)[None, :]  # (n, H)
        scale = np.exp(bias[None, None, :] + spread[None, None, :] * noise[None] + grown[:, None, :])
        best = self.velocities[np.argmax(now.weights, axis=1)]  # (n, 2)
        xl = self.targets_km[:, None, 0] - best[:, None, 0] * lead_h
        yl = self.targets_km[:, None, 1] - best[:, None, 1] * lead_h
        lagrangian = read_map(now.maps, self.grid, np.full(xl.shape, last), xl, yl)
        here = read_map(now.maps, self.grid, np.full(n, last), self.targets_km[:, 0], self.targets_km[:, 1])
        eulerian = np.repeat(here[:, None], horizon, axis=1)
        return RainEnsemble(now.end, now.step_s, field * scale, lagrangian, eulerian, best)

    def _upwind(self, latest: Array, moved: Array, lead_h: Array, beyond_h: Array) -> Array:
        """The latest map read back along each member's trajectory (n, M, H). Where the trajectory
        leaves the network's sight, the rain last seen on it (at the edge) is carried on for the
        member's ``beyond_h`` hours: the network sees the front of a storm coming in, not its end, and
        members disagree about how long it is."""
        fraction = np.arange(1, PATH_SAMPLES + 1) / PATH_SAMPLES  # (S,)
        back = moved[..., None, None, :] * lead_h[None, None, :, None, None] * fraction[:, None]  # (n, M, H, S, 2)
        x = self.targets_km[:, None, None, None, 0] - back[..., 0]
        y = self.targets_km[:, None, None, None, 1] - back[..., 1]
        ix = np.clip(np.rint((x - self.grid.x0) / self.grid.step_km), 0, self.grid.nx - 1).astype(np.int64)
        iy = np.clip(np.rint((y - self.grid.y0) / self.grid.step_km), 0, self.grid.ny - 1).astype(np.int64)
        seen = self.seen[0][iy, ix]  # nearest cell: is the network watching this point
        last_seen = np.where(seen, np.arange(PATH_SAMPLES), -1).max(axis=-1)  # (n, M, H)
        at = np.maximum(last_seen, 0)[..., None]
        px = np.take_along_axis(x, at, axis=-1)[..., 0]
        py = np.take_along_axis(y, at, axis=-1)[..., 0]
        value = read_map(latest, self.grid, np.zeros(px.shape, dtype=np.int64), px, py)
        unseen_h = lead_h[None, None, :] * (1.0 - (last_seen + 1) / PATH_SAMPLES)
        carried = (last_seen >= 0) & (unseen_h <= beyond_h[None, :, None])
        out: Array = np.where(carried, value, 0.0)
        return out

    def _analyse(self, recent: Array, step_s: float, points_km: Array, prior: Array) -> tuple[Array, Array, Array]:
        """Maps of the recent frames, motion weights (n_points, V) and growth (n_points,) at ``points_km``."""
        maps = rain_map(recent, self.gauges_km, self.grid)
        errors, active = self._motion_errors(recent, maps, step_s)
        weights = _local_weights(errors, self.gauges_km[active], points_km, self.velocities, prior)
        growth = self._growth(recent, maps, step_s, active, errors, points_km)
        return maps, weights, growth

    def _motion_errors(self, recent: Array, maps: Array, step_s: float) -> tuple[Array, npt.NDArray[np.int64]]:
        """Per wet gauge and candidate velocity, the mean squared log error of moving the field of
        ``lag`` ago to predict its own reading (n_active, V), and which gauges those are."""
        frames = recent.shape[1]
        window = max(1, int(round(WINDOW_MIN * 60 / step_s)))
        lags = sorted({max(1, int(round(lag * 60 / step_s))) for lag in LAGS_MIN})
        evaluated = np.arange(frames - window, frames)
        placed = np.isfinite(self.gauges_km).all(axis=1)
        wet_near = np.nanmax(np.where(np.isfinite(recent), recent, 0.0), axis=1) > WET_MM_H
        at_gauge = read_map(maps, self.grid, np.arange(frames)[None, :], self.gauges_km[:, :1], self.gauges_km[:, 1:])
        active = np.flatnonzero(placed & (wet_near | (at_gauge.max(axis=1) > WET_MM_H)))
        if len(active) > MAX_TRAINING_GAUGES:
            active = np.sort(np.random.default_rng(self.seed).choice(active, MAX_TRAINING_GAUGES, replace=False))
        if not len(active):
            return np.zeros((0, len(self.velocities))), active
        where = self.gauges_km[active]
        observed = np.log1p(recent[active][:, evaluated])  # (A, J)
        total = np.zeros((len(active), len(self.velocities)))
        count = np.zeros((len(active), 1))
        for lag in lags:  # a handful of lags; each vectorised over gauges, motions and frames
            source = evaluated - lag
            ok = source >= 0
            if not ok.any():
                continue
            shift_h = lag * step_s / 3600.0
            x = where[:, None, None, 0] - self.velocities[None, :, None, 0] * shift_h
            y = where[:, None, None, 1] - self.velocities[None, :, None, 1] * shift_h
            frame = np.broadcast_to(np.maximum(source[ok], 0)[None, None, :], (len(active), len(self.velocities),
                                                                                 int(ok.sum())))  # fmt: skip
            moved = np.log1p(read_map(maps, self.grid, frame, x, y))  # (A, V, J)
            seen = observed[:, None, ok]
            valid = np.broadcast_to(np.isfinite(seen), moved.shape)
            miss = np.where(valid, moved - np.where(valid, seen, 0.0), 0.0)
            # A storm that grew or decayed meanwhile is brighter or dimmer everywhere: judge the motion
            # on where the rain went, not on how much there was (the mean log change is taken out).
            shift = miss.sum(axis=0, keepdims=True) / np.maximum(valid.sum(axis=0, keepdims=True), 1)
            total += np.where(valid, miss - shift, 0.0).__pow__(2).sum(axis=2)
            count += valid[:, 0, :].sum(axis=1, keepdims=True)
        return total / np.maximum(count, 1), active

    def _growth(
        self, recent: Array, maps: Array, step_s: float, active: npt.NDArray[np.int64], errors: Array, points: Array
    ) -> Array:
        """Log-rate change per hour over the last ``GROWTH_LAG_MIN`` along the motion, near each point."""
        if not len(active):
            return np.zeros(len(points))
        lag = max(1, int(round(GROWTH_LAG_MIN * 60 / step_s)))
        where = self.gauges_km[active]
        v = self.velocities[np.argmax(_local_weights(errors, where, where, self.velocities, np.zeros(2)), axis=1)]
        shift_h = lag * step_s / 3600.0
        bx, by = where[:, 0] - v[:, 0] * shift_h, where[:, 1] - v[:, 1] * shift_h
        before = read_map(maps, self.grid, np.full(len(active), recent.shape[1] - 1 - lag), bx, by)
        watched = read_map(self.seen[0][None].astype(np.float64), self.grid, np.zeros(len(active), np.int64), bx,
                           by) >= 0.5  # fmt: skip
        last_two = recent[active][:, -2:]
        seen_two = np.isfinite(last_two)
        now = np.where(seen_two, last_two, 0.0).sum(axis=1) / np.maximum(seen_two.sum(axis=1), 1)
        change = (np.log1p(now) - np.log1p(before)) / shift_h
        # Rain coming in from beyond the network is not growth: judge only where both ends were seen wet.
        judged = watched & (now > WET_MM_H) & (before > WET_MM_H)
        kernel = np.exp(-_distance2(points, where) / (2 * MOTION_KM**2)) * judged[None, :]
        rate = (kernel @ np.clip(change, -MAX_DECAY_PER_H, 0.0)) / (kernel.sum(axis=1) + 0.5)
        return np.asarray(rate)

    def _calibrate(self, rain: Series, horizon: int) -> Calibration:
        """Bias and spread of the moved field per lead, from the history's wet origins (a loop over moments)."""
        default = Calibration.default(horizon, rain.step_s)
        frames = _frames_needed(rain.step_s)
        values = rain.values
        wet_share = (np.nan_to_num(values) > WET_MM_H).mean(axis=0)
        candidates = np.flatnonzero(wet_share[frames : values.shape[1] - horizon] > 0.05) + frames
        if len(candidates) < 10:
            return default
        origins = candidates[np.unique(np.linspace(0, len(candidates) - 1, CALIBRATION_ORIGINS).astype(np.int64))]
        lead_h = rain.step_s * np.arange(1, horizon + 1) / 3600.0
        moved_all: list[Array] = []
        seen_all: list[Array] = []
        motions: list[Array] = []
        rng = np.random.default_rng(self.seed)
        at = np.arange(len(self.gauges_km))
        if len(at) > CALIBRATION_GAUGES:
            at = np.sort(rng.choice(at, CALIBRATION_GAUGES, replace=False))
        where = self.gauges_km[at]
        for origin in origins:  # moments of the history, each vectorised over gauges and leads
            recent = values[:, origin - frames + 1 : origin + 1]
            maps, weights, _ = self._analyse(recent, rain.step_s, where, np.zeros(2))
            best = self.velocities[np.argmax(weights, axis=1)]
            x = where[:, None, 0] - best[:, None, 0] * lead_h
            y = where[:, None, 1] - best[:, None, 1] * lead_h
            moved_all.append(read_map(maps, self.grid, np.full(x.shape, maps.shape[0] - 1), x, y))
            seen_all.append(values[at, origin + 1 : origin + 1 + horizon])
            wet = np.nan_to_num(recent[at]).max(axis=1) > WET_MM_H
            motions.append(best[wet])
        moved, seen = np.concatenate(moved_all), np.concatenate(seen_all)  # (origins x gauges, H)
        bias, spread = _persistence_errors(moved, seen)
        enough = np.isfinite(bias)
        bias = np.where(enough, bias, default.bias)
        spread = np.where(enough, spread, default.spread)
        moving = np.concatenate(motions) if motions else np.zeros((0, 2))
        prior = np.median(moving, axis=0) if len(moving) >= 10 else np.zeros(2)
        return Calibration(bias, spread, prior)


def _persistence_errors(moved: Array, seen: Array) -> tuple[Array, Array]:
    """Per lead (columns): the log factor that maps the moved field's upper tail onto what fell (its 90th
    percentile over the wet cases onto theirs: a frequency match, so position errors, which the
    ensemble's motion spread covers, do not shrink it), and the log spread of what fell around the
    moved value where both were wet. NaN where fewer than 20 cases were wet."""
    ok = np.isfinite(seen)
    wet = ok & ((moved >= CALIBRATION_MIN_MM_H) | (np.nan_to_num(seen) >= CALIBRATION_MIN_MM_H))
    both = ok & (moved >= CALIBRATION_MIN_MM_H) & (np.nan_to_num(seen) >= WET_MM_H)
    with warnings.catch_warnings():  # leads with no wet case give NaN (All-NaN slice), masked below
        warnings.simplefilter("ignore", RuntimeWarning)
        top_moved = np.nanpercentile(np.where(wet, moved, np.nan), 90, axis=0)
        top_seen = np.nanpercentile(np.where(wet, seen, np.nan), 90, axis=0)
        ratio = np.where(both, np.log(np.nan_to_num(seen) + 0.5) - np.log(moved + 0.5), np.nan)
        spread = 1.4826 * np.nanmedian(np.abs(ratio - np.nanmedian(ratio, axis=0)), axis=0)
    enough = (wet.sum(axis=0) >= 20) & (both.sum(axis=0) >= 20)
    bias = np.where(enough, np.log(np.maximum(top_seen, 0.1)) - np.log(np.maximum(top_moved, 0.1)), np.nan)
    return np.asarray(bias), np.asarray(np.where(enough, np.clip(spread, 0.1, 1.5), np.nan))


def _frames_needed(step_s: float) -> int:
    """Frames of the recent past the motion and growth read: the window plus the longest lag."""
    return int(round((WINDOW_MIN + max(LAGS_MIN)) * 60 / step_s)) + 1


def _distance2(a: Array, b: Array) -> Array:
    d2: Array = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)
    return d2


def _local_weights(errors: Array, where: Array, points: Array, velocities: Array, prior: Array) -> Array:
    """Motion weights (n_points, V): the gauges' errors averaged near each point (with the network's
    overall errors weighing as one nearby gauge), turned into a softmax: weight falls by 1/e for every
    ``TEMPERATURE`` standard deviations (of the scores over the candidates) a motion is worse than the best. Without wet
    gauges: a broad bump around ``prior``."""
    if not len(errors):
        d2 = ((velocities - prior[None, :]) ** 2).sum(axis=1)
        bump = np.exp(-d2 / (2 * 8.0**2))
        return np.repeat((bump / bump.sum())[None, :], len(points), axis=0)
    kernel = np.exp(-_distance2(points, where) / (2 * MOTION_KM**2))  # (P, A)
    overall = errors.mean(axis=0, keepdims=True)
    local = (kernel @ errors + OVERALL_WEIGHT * overall) / (kernel.sum(axis=1, keepdims=True) + OVERALL_WEIGHT)
    best = local.min(axis=1, keepdims=True)
    logits = -(local - best) / (TEMPERATURE * local.std(axis=1, keepdims=True) + 1e-9)
    w = np.exp(logits)
    weights: Array = w / w.sum(axis=1, keepdims=True)
    return weights


def _quantile_pick(weights: Array, quantiles: Array) -> npt.NDArray[np.int64]:
    """For every row and quantile, the candidate at that quantile of the row's weights: (n, len(quantiles))."""
    cdf = np.cumsum(weights, axis=1)
    cdf /= cdf[:, -1:]
    pick = (cdf[:, None, :] < quantiles[None, :, None]).sum(axis=2)
    out: npt.NDArray[np.int64] = np.minimum(pick, weights.shape[1] - 1).astype(np.int64)
    return out


def _ar1(rng: np.random.Generator, members: int, horizon: int, rho: float) -> Array:
    """Standard normal noise per member, correlated ``rho`` from one lead to the next: (members, horizon)."""
    shocks = rng.normal(0.0, 1.0, (members, horizon))
    out = np.empty_like(shocks)
    out[:, 0] = shocks[:, 0]
    scale = np.sqrt(1 - rho**2)
    for k in range(1, horizon):  # leads, not sensors
        out[:, k] = rho * out[:, k - 1] + scale * shocks[:, k]
    return out
