"""Harmonic analysis of tide gauges: least squares for every gauge in one batched solve.

The classic method (Foreman; T_TIDE and UTide in its OLS form): choose the constituents a record
can resolve (Rayleigh criterion: two frequencies need ``record >= rayleigh / |f1 - f2|``), infer
the important ones it cannot (K2 from S2, P1 from K1, ... with fixed amplitude ratios and phase
differences, from equilibrium theory or a reference station), and fit ``Z0 + sum f A cos(V + u - g)``
by least squares. The design matrix is shared by all gauges on one time axis; gaps differ per
gauge, so each gauge gets its own normal equations, built by one batched matrix product.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from forecasting.astronomy import equilibrium_arguments, nodal_corrections, speeds_deg_per_hour, synthesize

__all__ = ["EQUILIBRIUM_INFERENCE", "Inference", "TidalConstants", "analyse", "resolvable", "synthesize"]
from forecasting.series import Array, Series

# Constituents in the order they are admitted: the largest in most records first.
PRIORITY = (
    "M2", "K1", "S2", "O1", "N2", "P1", "K2", "Q1", "M4", "MS4", "MN4", "Sa", "Ssa", "MSF", "MM", "MF",
    "NU2", "2N2", "MU2", "L2", "T2", "LAM2", "J1", "OO1", "MK3", "M3", "M6", "S4", "2Q1", "RHO1", "M1", "S1",
)  # fmt: skip


@dataclass(frozen=True)
class Inference:
    """Constituent ``name`` follows ``base``: amplitude ``ratio`` x base's, phase base's + ``lag_deg``."""

    name: str
    base: str
    ratio: float
    lag_deg: float = 0.0


# Equilibrium-tide ratios (Cartwright & Tayler): used when the record cannot separate the pair.
EQUILIBRIUM_INFERENCE = (
    Inference("K2", "S2", 0.272),
    Inference("T2", "S2", 0.059),
    Inference("P1", "K1", 0.331),
    Inference("NU2", "N2", 0.194),
    Inference("RHO1", "Q1", 0.190),
)


@dataclass(frozen=True)
class TidalConstants:
    """Per gauge (rows) and constituent (columns): amplitude (units of the data) and Greenwich phase lag (deg)."""

    names: tuple[str, ...]
    amplitude: Array  # (n_gauges, K)
    phase_deg: Array  # (n_gauges, K)
    z0: Array  # (n_gauges,) mean level
    inferred: tuple[str, ...] = ()

    def of(self, name: str) -> tuple[Array, Array]:
        k = self.names.index(name)
        return self.amplitude[:, k], self.phase_deg[:, k]

    def predict(self, times: Array) -> Array:
        """The astronomical tide at ``times`` for every gauge: (n_gauges, n_times)."""
        return synthesize(times, list(self.names), self.amplitude, self.phase_deg, self.z0)


def resolvable(duration_h: float, candidates: Sequence[str] = PRIORITY, rayleigh: float = 1.0) -> list[str]:
    """Candidates in priority order, each kept if it is ``rayleigh`` resolution units from all kept before."""
    if duration_h <= 0:
        return []
    resolution = rayleigh * 360.0 / duration_h  # deg/h
    kept: list[str] = []
    speeds = dict(zip(candidates, speeds_deg_per_hour(list(candidates)), strict=True))
    for name in candidates:
        if speeds[name] >= resolution and all(abs(speeds[name] - speeds[k]) >= resolution for k in kept):
            kept.append(name)
    return kept


def analyse(
    series: Series,
    names: Sequence[str] | None = None,
    inference: Sequence[Inference] = EQUILIBRIUM_INFERENCE,
    rayleigh: float = 1.0,
) -> TidalConstants:
    """Harmonic constants of every row of ``series`` (hourly or finer levels, NaN for gaps).

    ``names`` fixes the constituents to solve (default: what the record resolves). Inferences
    apply to constituents that are not solved but whose base is; they are reported too.
    Nodal corrections are taken at every time (as UTide does), so a multi-year record is analysed
    with the corrections of each of its hours. Rows with too few values get NaN.
    """
    times = series.times()
    duration_h = (times[-1] - times[0]) / 3600.0 if len(times) > 1 else 0.0
    solved = list(names) if names is not None else resolvable(duration_h, PRIORITY, rayleigh)
    inferred = [i for i in inference if i.name not in solved and i.base in solved]
    design = _design(times, solved, inferred)
    coef = batched_least_squares(design, series.values)
    a, b = coef[:, 1::2], coef[:, 2::2]
    amplitude = np.hypot(a, b)
    phase = np.degrees(np.arctan2(b, a)) % 360.0
    extra_amp = [amplitude[:, solved.index(i.base)] * i.ratio for i in inferred]
    extra_phase = [(phase[:, solved.index(i.base)] + i.lag_deg) % 360.0 for i in inferred]
    return TidalConstants(
        names=tuple(solved + [i.name for i in inferred]),
        amplitude=np.column_stack([amplitude, *extra_amp]) if inferred else amplitude,
        phase_deg=np.column_stack([phase, *extra_phase]) if inferred else phase,
        z0=coef[:, 0],
        inferred=tuple(i.name for i in inferred),
    )


def _design(times: Array, solved: list[str], inferred: list[Inference]) -> Array:
    """(n_times, 1 + 2K): a constant, then f cos(V + u) and f sin(V + u) per solved constituent.

    An inferred constituent adds ``ratio * f' cos(V' + u' - lag)`` (and the sine) to its base's
    columns, so the base's fitted (A, g) carries both.
    """
    everything = solved + [i.name for i in inferred]
    f, u = nodal_corrections(everything, times)  # (T, K'): the Moon's node moves over a long record
    angle = np.radians(equilibrium_arguments(everything, times) + u)  # (T, K')
    cos, sin = f * np.cos(angle), f * np.sin(angle)
    k = len(solved)
    for j, inf in enumerate(inferred):
        base = solved.index(inf.base)
        lag = np.radians(inf.lag_deg)
        c, s = cos[:, k + j], sin[:, k + j]
        cos[:, base] += inf.ratio * (c * np.cos(lag) + s * np.sin(lag))
        sin[:, base] += inf.ratio * (s * np.cos(lag) - c * np.sin(lag))
    columns = np.empty((len(times), 1 + 2 * k))
    columns[:, 0] = 1.0
    columns[:, 1::2], columns[:, 2::2] = cos[:, :k], sin[:, :k]
    return columns


def batched_least_squares(design: Array, values: Array) -> Array:
    """Coefficients (n_gauges, p) of ``values ~ design`` per gauge, each over its own finite points.

    Complete gauges share one factorisation; gauges with gaps get their own normal equations
    from one batched product. A gauge with fewer points than unknowns gets NaN.
    """
    n_gauges, p = values.shape[0], design.shape[1]
    finite = np.isfinite(values)
    counts = finite.sum(axis=1)
    coef = np.full((n_gauges, p), np.nan)
    complete = counts == values.shape[1]
    if complete.any():
        solution, *_ = np.linalg.lstsq(design, values[complete].T, rcond=None)
        coef[complete] = solution.T
    gappy = np.flatnonzero(~complete & (counts > p))
    if len(gappy):
        weights = finite[gappy].astype(np.float64)  # (G, T)
        gram = np.matmul(design.T[None, :, :] * weights[:, None, :], design)  # (G, p, p)
        rhs = np.where(finite[gappy], values[gappy], 0.0) @ design  # (G, p)
        coef[gappy] = np.linalg.solve(gram, rhs[:, :, None])[:, :, 0]
    return coef
