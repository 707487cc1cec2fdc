"""Lags in time units: the recent past as means over blocks that widen with age.

A model that reads "the last 12 values" reads an hour of 5-minute data and half a day of hourly
data. Here the past before a forecast origin is cut at fixed ages - the last step, 5, 10, 15, 30,
45 minutes, 1, 2, 3, 6, 12, 24 hours, 2, 4 and 7 days - and each block is summarised by the mean
of its finite values (or its sum, for rain). On any grid the edges round to whole steps and
collapse where a block would be empty, so one setting ("look back 3 hours") means the same thing
at 1-minute, 5-minute, 15-minute and hourly steps.
"""

from __future__ import annotations

import numpy as np

from forecasting.series import Array, Floats, Ints

HOUR_S = 3600.0
EDGES_S = (0.0, 300.0, 600.0, 900.0, 1800.0, 2700.0, HOUR_S, 2 * HOUR_S, 3 * HOUR_S, 6 * HOUR_S, 12 * HOUR_S,
           24 * HOUR_S, 48 * HOUR_S, 96 * HOUR_S, 168 * HOUR_S)  # fmt: skip


def block_edges(span_s: float, step_s: float, edges_s: tuple[float, ...] = EDGES_S) -> Ints:
    """Block edges in steps before the origin, ``0, 1, ...``, reaching back ``span_s`` (at least one step)."""
    wanted = [round(e / step_s) for e in edges_s if e <= span_s + 1e-9] + [0, 1, max(1, round(span_s / step_s))]
    return np.unique(np.array(wanted, dtype=np.int64))


def blocks_within(edges: Ints, span_s: float, step_s: float) -> int:
    """How many of the blocks ``edges`` delimits lie within ``span_s`` (at least one)."""
    return max(1, int(np.searchsorted(edges, max(1, round(span_s / step_s)), side="right")) - 1)


class Cumulative:
    """Running sums of a batch's finite values and counts, for block means at any origins."""

    def __init__(self, values: Floats, gaps: bool = True) -> None:
        """``gaps=False``: the values have no NaN (filled already), so counts are the blocks' widths."""
        if gaps:
            zero = np.zeros((values.shape[0], 1))
            finite = np.isfinite(values)
            self.sums = np.concatenate([zero, np.cumsum(np.where(finite, values, 0.0), axis=1)], axis=1)
            self.counts: Array | None = np.concatenate([zero, np.cumsum(finite, axis=1, dtype=np.float64)], axis=1)
        else:  # summed in double whatever the values' precision, straight into place
            self.sums = np.zeros((values.shape[0], values.shape[1] + 1))
            np.cumsum(values, axis=1, dtype=np.float64, out=self.sums[:, 1:])
            self.counts = None

    def blocks(self, origins: Ints, edges: Ints) -> tuple[Array, Array]:
        """Sums and counts (n, J, B) of the finite values in ``[o - edges[b + 1], o - edges[b])``
        for each origin ``o`` (the first column after the data; columns before 0 count as missing)."""
        at = np.maximum(origins[:, None] - edges[None, :], 0)  # (J, B + 1): each block ends where the next starts
        running = self.sums[:, at]
        sums = running[..., :-1] - running[..., 1:]
        if self.counts is None:
            return sums, np.broadcast_to((at[:, :-1] - at[:, 1:]).astype(np.float64), sums.shape)
        seen = self.counts[:, at]
        return sums, seen[..., :-1] - seen[..., 1:]

    def means(self, origins: Ints, edges: Ints, empty: float = 0.0) -> Array:
        """Block means (n, J, B); ``empty`` where a block has no finite value."""
        sums, counts = self.blocks(origins, edges)
        means: Array = np.where(counts > 0, sums / np.maximum(counts, 1.0), empty)
        return means

    def means_by_block(self, origins: Ints, edges: Ints, out: Floats) -> Floats:
        """Block means of gap-free values (``gaps=False``) written into ``out`` (n, B, J), block-major
        and in ``out``'s precision; 0 where a block is empty (before the first column).

        The layout a batched regression reads fastest (one contiguous row of origins per block),
        built in three passes: one gather of the running sums at every block edge, one difference,
        one scaling by the blocks' widths.
        """
        assert self.counts is None, "block-major means are for gap-free values"
        at = np.maximum(origins[None, :] - edges[:, None], 0)  # (B + 1, J)
        width = (at[:-1] - at[1:]).astype(np.float64)
        scale = np.divide(1.0, width, out=np.zeros_like(width), where=width > 0).astype(out.dtype)
        running = np.take(self.sums, at, axis=1)  # (n, B + 1, J)
        np.subtract(running[:, :-1], running[:, 1:], out=out, casting="same_kind")
        out *= scale
        return out
