"""Prediction bands from a model's own past errors, per series and per horizon step.

Split-conformal in spirit: the band for step h is the empirical quantile of the absolute
h-step-ahead errors the model made on the history (computed out of sample by each model's
``backcast``), so coverage follows from exchangeability rather than from a distribution
assumed for the residuals. Series with too few errors borrow the pooled quantile of the batch.
"""

from __future__ import annotations

import numpy as np

from forecasting.series import Array

MIN_ERRORS = 20  # fewer past errors than this at a step: use the batch's pooled quantile


def error_quantiles(errors: Array, levels: tuple[float, ...]) -> dict[float, Array]:
    """Half-widths per level: (n_series, horizon) from ``errors`` (n_series, n_origins, horizon), NaN allowed.

    The quantile is taken at ``ceil((n + 1) * level) / n`` of the n available errors, the
    finite-sample correction of split-conformal prediction.
    """
    magnitude = np.sort(np.abs(errors), axis=1)  # once for every level; NaN sort last
    counts = np.sum(np.isfinite(magnitude), axis=1)  # (n_series, horizon)
    pooled_counts = counts.sum(axis=0)  # (horizon,)
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
        flat = magnitude.transpose(2, 0, 1).reshape(magnitude.shape[2], -1)  # (horizon, all errors)
        pooled = np.array(
            [
                np.nanquantile(row, p) if np.isfinite(row).any() else np.nan
                for row, p in zip(flat, pooled_q, strict=True)
            ]
        )
        widths[level] = np.where(counts >= MIN_ERRORS, per_series, pooled[None, :])
    return widths


def _nan_quantile_along_origins(ordered: Array, q: Array) -> Array:
    """Quantile ``q[s, h]`` of ``ordered[s, :, h]`` (sorted along origins, NaN last), ignoring NaN."""
    counts = np.sum(np.isfinite(ordered), axis=1)  # (n_series, horizon)
    position = q * np.maximum(counts - 1, 0)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, np.maximum(counts - 1, 0))
    weight = position - below
    low = np.take_along_axis(ordered, below[:, None, :], axis=1)[:, 0, :]
    high = np.take_along_axis(ordered, above[:, None, :], axis=1)[:, 0, :]
    result = low + weight * (high - low)
    return np.where(counts > 0, result, np.nan)
