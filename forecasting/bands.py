"""Prediction bands from a model's own out-of-sample errors, per series and per horizon step.

Split-conformal in spirit: the band for step h is the empirical quantile of the absolute
h-step-ahead errors the model made on data it did not fit (each model says how it gets them:
held-out origins, cross-fitting, leave-one-out), so coverage follows from exchangeability rather
than from a distribution assumed for the residuals. Errors are kept at a few ``knots`` of the
horizon (dense early, sparse late) and widths interpolated between them. Series with too few
errors borrow the pooled quantile of the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from forecasting.series import Array, Floats, Ints, Mask

MIN_ERRORS = 20  # fewer past errors than this at a step: use the batch's pooled quantile
HORIZON_KNOTS = 24  # band widths (and direct regressions) at this many steps, interpolated between


def horizon_knots(horizon: int) -> Ints:
    """0-based steps at which band widths are computed: dense early, sparse late, always the last."""
    return np.unique(np.round(np.geomspace(1, horizon, min(HORIZON_KNOTS, horizon))).astype(np.int64) - 1)


def interpolate_knots(at_knots: Array, knots: Ints, horizon: int) -> Array:
    """(n_series, horizon) from values at the knot steps, linear in between, flat past the last."""
    steps = np.arange(horizon)
    left = np.clip(np.searchsorted(knots, steps, side="right") - 1, 0, len(knots) - 1)
    right = np.minimum(left + 1, len(knots) - 1)
    span = np.maximum(knots[right] - knots[left], 1)
    weight = np.clip(np.where(right > left, (steps - knots[left]) / span, 0.0), 0.0, 1.0)
    result: Array = at_knots[:, left] * (1 - weight) + at_knots[:, right] * weight
    return result


@dataclass(frozen=True)
class KnotErrors:
    """Out-of-sample errors ``errors`` (n_series, n_origins, n_knots) at the 0-based steps ``knots``:
    what ``fit`` keeps so that any later ``predict`` reads bands from the same errors."""

    knots: Ints
    errors: Floats  # single precision where the model computed them so
    magnitude: Floats = field(init=False, repr=False)  # |errors| sorted along origins: read by every predict

    def __post_init__(self) -> None:
        magnitude = np.abs(self.errors)  # sorted in place: fastest when origins are contiguous in ``errors``
        magnitude.sort(axis=1)
        object.__setattr__(self, "magnitude", magnitude)

    @property
    def horizon(self) -> int:
        return int(self.knots[-1]) + 1 if len(self.knots) else 0

    def bands(self, mean: Array, levels: Sequence[float]) -> tuple[dict[float, Array], dict[float, Array]]:
        """(lower, upper) per level around ``mean`` (n_series, horizon)."""
        lower, upper = {}, {}
        for level, w in error_quantiles(self.magnitude, tuple(levels), presorted=True).items():
            width = interpolate_knots(w, self.knots, mean.shape[1])
            lower[level], upper[level] = mean - width, mean + width
        return lower, upper


def steady_bands(mean: Array, errors: Array, levels: Sequence[float]) -> tuple[dict[float, Array], dict[float, Array]]:
    """A profile's bands: as wide at every step, from ``errors`` (n_series, n_errors)."""
    return KnotErrors(np.zeros(1, dtype=np.int64), errors[:, :, None]).bands(mean, levels)


def error_quantiles(errors: Floats, levels: tuple[float, ...], presorted: bool = False) -> dict[float, Array]:
    """Half-widths per level: (n_series, n_knots) from ``errors`` (n_series, n_origins, n_knots), NaN allowed.

    The quantile is taken at ``ceil((n + 1) * level) / n`` of the n available errors, the
    finite-sample correction of split-conformal prediction. ``presorted``: ``errors`` are already
    magnitudes sorted along origins (NaN last).
    """
    magnitude = errors if presorted else np.sort(np.abs(errors), axis=1)  # once for every level; NaN last
    counts = np.sum(np.isfinite(magnitude), axis=1)  # (n_series, n_knots)
    pooled_counts = counts.sum(axis=0)  # (n_knots,)
    widths: dict[float, Array] = {}
    for level in levels:
        if not 0 < level < 1:
            raise ValueError(f"interval levels are in (0, 1), got {level}")
        q = np.clip(np.ceil((counts + 1) * level) / np.maximum(counts, 1), 0, 1)
        per_series = _nan_quantile_along_origins(magnitude, q)
        if (counts >= MIN_ERRORS).all():  # every series has enough errors of its own
            widths[level] = per_series
            continue
        pooled_q = np.clip(np.ceil((pooled_counts + 1) * level) / np.maximum(pooled_counts, 1), 0, 1)
        flat = magnitude.transpose(2, 0, 1).reshape(magnitude.shape[2], -1)  # (n_knots, all errors)
        pooled = np.array(
            [
                np.nanquantile(row, p) if np.isfinite(row).any() else np.nan
                for row, p in zip(flat, pooled_q, strict=True)
            ]
        )
        widths[level] = np.where(counts >= MIN_ERRORS, per_series, pooled[None, :])
    return widths


def _nan_quantile_along_origins(ordered: Floats, q: Array) -> Array:
    """Quantile ``q[s, h]`` of ``ordered[s, :, h]`` (sorted along origins, NaN last), ignoring NaN."""
    counts = np.sum(np.isfinite(ordered), axis=1)  # (n_series, n_knots)
    position = q * np.maximum(counts - 1, 0)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, np.maximum(counts - 1, 0))
    weight = position - below
    low = np.take_along_axis(ordered, below[:, None, :], axis=1)[:, 0, :]
    high = np.take_along_axis(ordered, above[:, None, :], axis=1)[:, 0, :]
    result = low + weight * (high - low)
    return np.where(counts > 0, result, np.nan)


def without_forecast(mean: Array) -> Mask:
    """Series the model could say nothing about (e.g. no finite value at all)."""
    return np.asarray(~np.isfinite(mean).all(axis=1), dtype=np.bool_)


def check_horizon(horizon: int, fitted_for: int, name: str) -> None:
    """A direct model learned its steps up to ``fitted_for``; further needs a fit with a longer ``horizon_s``."""
    if horizon > fitted_for:
        raise ValueError(f"{name}: fitted for {fitted_for} steps ahead, asked for {horizon}; fit with longer horizon_s")
