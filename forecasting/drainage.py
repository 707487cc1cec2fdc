"""A conceptual drainage model per street: a store that rain fills and drains empty, unless the river is high.

A street's low spot is a reservoir. Runoff fills it; its drains empty it at up to ``capacity``
(mm/h of rain they can carry) into the river; the higher the river stands at the outfall, the less
they carry, and above the street's crown the river comes back up through them. Water shows on the
road (what the depth sensor reads) once the pipes' own ``store`` is full:

    held(t + dt) = max(held + dt * gain * (rain - capacity * open), 0)
    open         = clip((block + depth - river) / soft, 0, 1) ** shape
                   drains close as the river rises towards the water on the street
    river > crown: held relaxes towards store + (river - crown) within BACKFLOW_S
    depth        = max(held - store, 0)

Six parameters per street: ``gain`` (m of depth per mm of excess rain), ``capacity`` (mm/h),
``block`` (river level, m, at which the drains of a dry street stop), ``soft`` (m of head over which
they close), ``shape`` (how: 1 linearly, below 1 late and fast, above 1 early and slowly) and
``store`` (m the pipes hold first). A structure with a free closing law, not the simulator's law:
the simulator's drains follow the orifice law on the head (or a gated weir law in its other city)
and the model is tested on both.

**Priors from metadata.** ``capacity`` is lognormal around the registered drain capacity, ``block``
normal around the registered crown height (a little higher for streets far from the river, whose
outfall canal damps the tide), the others broad. **Fit.** A fixed set of candidate parameter
vectors drawn from each street's prior (the same quasi-random draws in prior space for every
street) is run through the street's history at once - streets x candidates are one array, the
loop is over time steps of the wet or high-water periods only - and weighted by the tempered
likelihood of the observed depths (importance sampling). A street that never flooded keeps every
candidate that does not flood where it did not, and takes the gain and softness of the streets
that did (their posterior replaces its broad prior): it still floods in a storm bigger than any it
has seen. The ``keep`` best-weighted candidates are the street's parameter ensemble.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import numpy.typing as npt

from forecasting.series import Array

DEFAULT_DRAIN_MM_H = 25.0  # a street registered without its drain capacity
DEFAULT_RIVER_KM = 1.0
GAIN_MEDIAN = 0.008  # m of depth per mm of excess rain: runoff ~0.8 x a catchment ~10 times the low spot
GAIN_LOG_SD = 0.6  # x/÷ 1.8 per sd: low spots differ
CAPACITY_LOG_SD = 0.35  # registered drain capacities are design values: +-35 %
BLOCK_SD_M = 0.2
BLOCK_PER_RIVER_KM = 0.03  # m the river must stand higher per km from it before a street's drains stop
SOFT_MEDIAN_M = 0.4
SOFT_LOG_SD = 0.7
SHAPE_LOG_SD = 0.6  # closing law exponent, median 1 (linear)
STORE_SD_M = 0.03
BACKFLOW_S = 900.0  # the river floods a street it overtops within about this long
LOSS_M_H = 0.005  # infiltration and evaporation from the road
OBSERVATION_SD_M = 0.03  # model + sensor error of a depth
INDEPENDENT_EVERY = 18  # depth errors a step apart are not independent: one in this many counts
QUIET_RAIN_S = 6 * 3600.0  # a street with no rain this long, a dry road and a low river holds nothing
INFORMATIVE_DEPTH_M = 0.05  # a street whose history never shows this much water learns from the others
CANDIDATES = 256  # per round (two rounds)
PRIORS = ("gain", "capacity", "block", "soft", "shape", "store")  # the dimensions of a candidate
POOLED = (0, 3, 4)  # gain, soft and shape: how a city's drains behave, learned from every street
POOLED_SD = 0.3  # in prior sd units: how far a street's gain or softness may stray from the pooled one
KEEP = 24

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.floating[Any]]  # float64, or float32 in the fit's hot loop


@dataclass(frozen=True)
class StreetFacts:
    """What the registry says of each street (NaN where unknown): crown height (m, the river gauges'
    datum), drain capacity (mm/h of rain), distance to the river or main canal (km)."""

    crown_m: Array
    drain_mm_h: Array
    river_km: Array

    def __post_init__(self) -> None:
        if not len(self.crown_m) == len(self.drain_mm_h) == len(self.river_km):
            raise ValueError("street facts must have one entry per street")


@dataclass(frozen=True)
class Parameters:
    """Per street (rows) and parameter set (columns): the ensemble a forecast runs, with weights summing to 1."""

    gain: Floats
    capacity: Floats
    block: Floats
    soft: Floats
    shape: Floats
    store: Floats
    weight: Array

    def take(self, pick: Ints) -> Parameters:
        """The parameter sets ``pick`` (n, m) of each street, as an (n, m) ensemble."""

        def at(a: Floats) -> Floats:
            taken: Floats = np.take_along_axis(a, pick, axis=1)
            return taken

        return Parameters(at(self.gain), at(self.capacity), at(self.block), at(self.soft), at(self.shape),
                          at(self.store), np.full(pick.shape, 1.0 / pick.shape[1]))  # fmt: skip


def step(p: Parameters, held: Floats, rain: Floats, river: Floats, crown: Floats, dt_s: float) -> Floats:
    """One time step for every street x parameter set: ``held`` (n, m) m, ``rain`` (n, m) mm/h, ``river``
    and ``crown`` broadcastable to it, m. Returns the new ``held`` (in the inputs' float type)."""
    dt_h = dt_s / 3600.0
    on_road = (held > p.store).astype(held.dtype)
    opening = np.clip((p.block + np.maximum(held - p.store, 0.0) - river) / p.soft, 0.0, 1.0) ** p.shape
    change = p.gain * (rain - p.capacity * opening) * dt_h - LOSS_M_H * dt_h * on_road
    held = np.maximum(held + np.where(held > 0, change, np.maximum(change, 0.0)), 0.0)
    over = river - crown
    target = p.store + over
    backflow = (over > 0) & (held < target)
    relaxed = held + (target - held) * float(1.0 - np.exp(-dt_s / BACKFLOW_S))
    out: Floats = np.where(backflow, relaxed, held)
    return out


def depth_of(p: Parameters, held: Floats) -> Floats:
    d: Floats = np.maximum(held - p.store, 0.0)
    return d


def priors(facts: StreetFacts, z: Array) -> Parameters:
    """Parameter sets from standard-normal draws ``z`` (n, m, 6) through each street's prior: (n, m) each."""
    drain = np.where(np.isfinite(facts.drain_mm_h), facts.drain_mm_h, DEFAULT_DRAIN_MM_H)[:, None]
    river_km = np.where(np.isfinite(facts.river_km), facts.river_km, DEFAULT_RIVER_KM)[:, None]
    crown = facts.crown_m[:, None]
    n, m = z.shape[:2]
    return Parameters(
        gain=GAIN_MEDIAN * np.exp(GAIN_LOG_SD * z[..., 0]),
        capacity=drain * np.exp(CAPACITY_LOG_SD * z[..., 1]),
        block=crown + BLOCK_PER_RIVER_KM * river_km + BLOCK_SD_M * z[..., 2],
        soft=SOFT_MEDIAN_M * np.exp(SOFT_LOG_SD * z[..., 3]),
        shape=np.exp(SHAPE_LOG_SD * z[..., 4]),
        store=np.abs(STORE_SD_M * z[..., 5]),
        weight=np.full((n, m), 1.0 / m),
    )


def quasi_normal(count: int, dims: int, seed: int = 0) -> Array:
    """``count`` standard-normal points in ``dims`` dimensions from a shifted Halton sequence (even cover)."""
    primes = (2, 3, 5, 7, 11, 13, 17, 19)[:dims]
    index = np.arange(1, count + 1)
    u = np.empty((count, dims))
    for d, base in enumerate(primes):  # a handful of dimensions
        value, f, i = np.zeros(count), 1.0 / base, index.copy()
        while (i > 0).any():
            value += f * (i % base)
            i //= base
            f /= base
        u[:, d] = value
    u = (u + np.random.default_rng(seed).random(dims)) % 1.0
    normal = NormalDist()
    z: Array = np.vectorize(normal.inv_cdf)(np.clip(u, 1e-6, 1 - 1e-6)).astype(np.float64)
    return z


class StreetDrainage:
    """The conceptual model for n streets: ``fit`` learns each street's parameter ensemble from its
    history; ``spin_up`` gives the water each parameter set holds now; ``run`` moves it forward."""

    def __init__(self, facts: StreetFacts, candidates: int = CANDIDATES, keep: int = KEEP, seed: int = 0) -> None:
        self.facts = facts
        self.z = quasi_normal(candidates, len(PRIORS), seed)
        self.keep = min(keep, candidates)
        self._params: Parameters | None = None

    @property
    def params(self) -> Parameters:
        if self._params is None:
            raise RuntimeError("call fit() first")
        return self._params

    def fit(self, depth: Array, rain: Array, river: Array, step_s: float) -> StreetDrainage:
        """Learn from the history: ``depth`` (n, T) m observed on the road (NaN missing), ``rain`` (n, T)
        mm/h over each street, ``river`` (n, T) m at its outfall, on one time axis of ``step_s``."""
        n = len(self.facts.crown_m)
        informative = np.nanmax(np.where(np.isfinite(depth), depth, 0.0), axis=1) >= INFORMATIVE_DEPTH_M
        crown = self.facts.crown_m
        # Round 1: candidates from the prior. Round 2: from a normal around each street's round-1
        # posterior (adaptive importance sampling); both weighted against the mixture they came from.
        z1 = np.broadcast_to(self.z[None], (n, *self.z.shape))
        like1 = _log_likelihood(priors(self.facts, z1), crown, depth, rain, river, step_s)
        mean, spread = _moments(z1, like1 + _borrowed_prior(z1, like1, informative))
        spread = np.maximum(1.5 * spread, 0.15)
        z2 = mean[:, None, :] + spread[:, None, :] * self.z[None]
        like2 = _log_likelihood(priors(self.facts, z2), crown, depth, rain, river, step_s)
        z, like = np.concatenate([z1, z2], axis=1), np.concatenate([like1, like2], axis=1)
        log_prior = -0.5 * (z**2).sum(axis=2)
        log_round2 = -0.5 * (((z - mean[:, None, :]) / spread[:, None, :]) ** 2).sum(axis=2) - np.log(spread).sum(
            axis=1, keepdims=True
        )
        weighted = like + log_prior - (np.logaddexp(log_prior, log_round2) - np.log(2.0))
        log_post = weighted + _borrowed_prior(z, weighted, informative)
        candidates = priors(self.facts, z)
        best = np.argsort(-log_post, axis=1)[:, : self.keep]
        kept = candidates.take(best)
        top = np.take_along_axis(log_post, best, axis=1)
        weight = np.exp(top - top.max(axis=1, keepdims=True))
        self._params = Parameters(kept.gain, kept.capacity, kept.block, kept.soft, kept.shape, kept.store,
                                  weight / weight.sum(axis=1, keepdims=True))  # fmt: skip
        return self

    def spin_up(self, rain: Array, river: Array, depth: Array, step_s: float) -> tuple[Array, Array]:
        """The water each parameter set holds now (n, keep), and how well each set followed the street
        in that time (log-likelihood, (n, keep)): run from empty through the recent ``rain``, ``river``
        and observed ``depth`` (n, R), compare, then set the water to what the sensor reads now (water on
        the road, or none). A storm under way tells which parameter sets are right for it."""
        p = self.params
        held: Floats = np.zeros(p.gain.shape)
        crown = self.facts.crown_m[:, None]
        sse = np.zeros(p.gain.shape)
        for k in range(rain.shape[1]):  # recent time steps
            held = step(p, held, rain[:, k, None], river[:, k, None], crown, step_s)
            seen = depth[:, k, None]
            judged = np.isfinite(seen) & ((seen > 0.005) | (depth_of(p, held) > 0.005))
            sse += np.where(judged, depth_of(p, held) - np.where(judged, seen, 0.0), 0.0) ** 2
        seen = depth[:, -1, None]
        wet = np.isfinite(seen) & (seen > 0.005)
        dry = np.isfinite(seen) & ~wet
        out: Array = np.where(wet, p.store + np.where(wet, seen, 0.0), np.where(dry, np.minimum(held, p.store), held))
        log_like: Array = -sse / (2 * OBSERVATION_SD_M**2 * INDEPENDENT_EVERY)
        return out, log_like

    def run(self, held: Array, rain: Array, river: Array, step_s: float, pick: Ints) -> Array:
        """Depth paths (n, M, H) m: member j of street i runs parameter set ``pick[i, j]`` from ``held``
        (n, keep) through ``rain`` (n, M, H) mm/h and ``river`` (n, H) m."""
        p = self.params.take(pick)
        water: Floats = np.take_along_axis(held, pick, axis=1)
        crown = self.facts.crown_m[:, None]
        out = np.empty(rain.shape)
        for k in range(rain.shape[2]):  # lead steps
            water = step(p, water, rain[:, :, k], river[:, k, None], crown, step_s)
            out[:, :, k] = depth_of(p, water)
        return out

    def members(self, count: int, log_weight: Array | None = None) -> Ints:
        """(n, count) parameter-set indices, each set as often as its weight says (systematic resampling);
        ``log_weight`` (n, keep), e.g. from ``spin_up``, multiplies the fitted weights."""
        weight = self.params.weight
        if log_weight is not None:
            weight = weight * np.exp(log_weight - log_weight.max(axis=1, keepdims=True))
        cdf = np.cumsum(weight, axis=1)
        u = (np.arange(count) + 0.5) / count * cdf[:, -1:]
        pick: Ints = np.minimum((cdf[:, None, :] < u[..., None]).sum(axis=2), self.keep - 1).astype(np.int64)
        return pick


def _quiet(depth: Array, rain: Array, river: Array, crown: Array, step_s: float) -> npt.NDArray[np.bool_]:
    """(n, T) steps a street surely holds nothing: no rain for ``QUIET_RAIN_S``, a dry road, a low river."""
    window = max(1, int(round(QUIET_RAIN_S / step_s)))
    wet = np.nan_to_num(rain) > 0.05
    totals = np.concatenate([np.zeros((wet.shape[0], 1)), np.cumsum(wet, axis=1)], axis=1)
    recent = totals[:, 1:] - totals[:, np.maximum(np.arange(1, wet.shape[1] + 1) - window, 0)]
    dry_road = ~(np.nan_to_num(depth) > 0.005)
    low_river = river < crown[:, None] - 0.3
    quiet: npt.NDArray[np.bool_] = (recent == 0) & dry_road & low_river
    return quiet


def _log_likelihood(p: Parameters, crown: Array, depth: Array, rain: Array, river: Array, step_s: float) -> Array:
    """Tempered Gaussian log-likelihood (n, m) of the observed depths under each parameter set.

    The hot loop of ``fit`` (time steps x streets x candidates): run in float32, which halves its cost
    and is far finer than a depth gauge."""
    quiet = _quiet(depth, rain, river, crown, step_s)
    busy = np.flatnonzero(~quiet.all(axis=0))
    single = np.float32
    f32 = Parameters(p.gain.astype(single), p.capacity.astype(single), p.block.astype(single),
                     p.soft.astype(single), p.shape.astype(single), p.store.astype(single), p.weight)  # fmt: skip
    held: Floats = np.zeros(p.gain.shape, dtype=np.float32)
    sse = np.zeros(p.gain.shape, dtype=np.float32)
    crown2 = crown[:, None].astype(np.float32)
    rain32, river32, depth32 = (a.astype(np.float32) for a in (rain, river, depth))
    for t in busy:  # steps where some street may hold water; quiet streets are reset to empty
        moved = step(f32, held, rain32[:, t, None], river32[:, t, None], crown2, step_s)
        held = np.where(quiet[:, t, None], np.float32(0.0), moved)
        seen = depth32[:, t, None]
        known = np.isfinite(seen)
        sse += np.where(known, depth_of(f32, held) - np.where(known, seen, np.float32(0.0)), np.float32(0.0)) ** 2
    out: Array = -sse.astype(np.float64) / (2 * OBSERVATION_SD_M**2 * INDEPENDENT_EVERY)
    return out


def _moments(z: Array, log_weight: Array) -> tuple[Array, Array]:
    """Weighted mean and sd (n, d) of the candidates ``z`` (n, m, d) under ``log_weight`` (n, m)."""
    w = np.exp(log_weight - log_weight.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    mean = np.einsum("nm,nmd->nd", w, z)
    var = np.einsum("nm,nmd->nd", w, (z - mean[:, None, :]) ** 2)
    return mean, np.sqrt(var)


def _borrowed_prior(z: Array, log_like: Array, informative: npt.NDArray[np.bool_]) -> Array:
    """Log prior adjustment (n, m) for candidates ``z`` (n, m, d): every street's gain, softness and shape
    are drawn towards what the streets with informative histories learned (partial pooling: a normal
    in prior space fitted to their posterior means replaces the broad prior). A street that never
    flooded has nothing else to go by; one that did keeps what its own floods say."""
    adjust = np.zeros(log_like.shape)
    if informative.sum() < 2:
        return adjust
    means, _ = _moments(z[informative], log_like[informative])
    for dim in POOLED:
        mu, sd = float(means[:, dim].mean()), max(float(means[:, dim].std()), POOLED_SD)
        adjust += -0.5 * ((z[..., dim] - mu) / sd) ** 2 + 0.5 * z[..., dim] ** 2
    return adjust
