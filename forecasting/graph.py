"""Which sensors a sensor listens to: upstream, downstream and nearby detectors.

A jam announces itself at the detector downstream of it (the queue spills back) and arrives from
upstream; a detector across the junction sees the same signal phase. ``SensorGraph`` holds, per
sensor, up to ``k`` neighbours of each ``Relation`` with weights summing to one, as fixed-width
index arrays so that neighbour features are one gather over the whole batch. Build it from an
adjacency matrix you have, or from site coordinates and directed road links.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from forecasting.series import Array, Ints

NEIGHBOURS = 4  # per relation
CHUNK_ROWS = 1_000  # rows of the distance matrix held at once (memory: CHUNK_ROWS x n floats)


class Relation(IntEnum):
    UPSTREAM = 0  # traffic flows from the neighbour to the sensor
    DOWNSTREAM = 1  # from the sensor to the neighbour
    NEARBY = 2  # close by, direction unknown


@dataclass(frozen=True)
class SensorGraph:
    """``index[r]`` (n, k): neighbours of relation ``r`` (-1: none); ``weight[r]`` (n, k), rows sum to 1 or 0."""

    index: Ints  # (len(Relation), n, k)
    weight: Array  # (len(Relation), n, k)

    @property
    def n_sensors(self) -> int:
        return int(self.index.shape[1])

    @classmethod
    def from_adjacency(cls, adjacency: Array, directed: bool = False, k: int = NEIGHBOURS) -> SensorGraph:
        """``adjacency[i, j] > 0``: j is a neighbour of i with that weight. ``directed``: traffic flows
        from j to i (j upstream of i, so i downstream of j); otherwise every link is ``NEARBY``."""
        a = np.where(np.eye(len(adjacency), dtype=bool), 0.0, np.clip(np.asarray(adjacency, np.float64), 0, None))
        empty = np.zeros_like(a)
        by_relation = (a, a.T, empty) if directed else (empty, empty, a)
        return cls(*_strongest(np.stack(by_relation), k))

    @classmethod
    def from_sites(
        cls,
        xy_km: Array,
        links: Sequence[tuple[int, int]] = (),
        radius_km: float = 1.0,
        k: int = NEIGHBOURS,
    ) -> SensorGraph:
        """``links``: directed road links (from sensor, to sensor); nearby: the ``k`` closest other
        sensors within ``radius_km`` (weights fall with distance; sensors at one site are closest)."""
        n = len(xy_km)
        index = np.full((len(Relation), n, k), -1, dtype=np.int64)
        weight = np.zeros((len(Relation), n, k))
        for lo in range(0, n, CHUNK_ROWS):  # chunks of rows: the distance matrix never exists whole
            rows = np.arange(lo, min(lo + CHUNK_ROWS, n))
            distance = np.hypot(*(xy_km[rows, None, :] - xy_km[None, :, :]).transpose(2, 0, 1))
            distance[np.arange(len(rows)), rows] = np.inf
            distance = np.where(np.isfinite(distance) & (distance <= radius_km), distance, np.inf)
            kk = min(k, n - 1)
            if kk <= 0:
                continue
            nearest = np.argpartition(distance, kk - 1, axis=1)[:, :kk]
            d = np.take_along_axis(distance, nearest, axis=1)
            w = np.where(np.isfinite(d), 1.0 / (0.2 + d), 0.0)  # 200 m floor: two sensors at one site
            index[Relation.NEARBY, rows, :kk] = np.where(w > 0, nearest, -1)
            weight[Relation.NEARBY, rows, :kk] = w
        if len(links):
            pairs = np.asarray(links, dtype=np.int64).reshape(-1, 2)
            for relation, (rows, cols) in ((Relation.UPSTREAM, (pairs[:, 1], pairs[:, 0])),
                                           (Relation.DOWNSTREAM, (pairs[:, 0], pairs[:, 1]))):  # fmt: skip
                index[relation], weight[relation] = _sparse_links(n, rows, cols, k)
        total = weight.sum(axis=2, keepdims=True)
        return cls(index, np.divide(weight, total, out=np.zeros_like(weight), where=total > 0))

    def gather(self, features: Array) -> Array:
        """Weighted neighbour means (n, ..., len(Relation)) of per-sensor ``features`` (n, ...)."""
        picked = features[np.maximum(self.index, 0)]  # (R, n, k, ...)
        w = np.where(self.index >= 0, self.weight, 0.0).reshape(*self.weight.shape, *([1] * (features.ndim - 1)))
        return np.moveaxis((picked * w).sum(axis=2), 0, -1)


def _strongest(a: Array, k: int) -> tuple[Ints, Array]:
    """Per relation and row of ``a`` (R, n, n): the ``k`` largest weights (normalised) and their columns."""
    k = max(1, min(k, a.shape[2]))
    top = np.argsort(-a, axis=2, kind="stable")[:, :, :k]
    w = np.take_along_axis(a, top, axis=2)
    total = w.sum(axis=2, keepdims=True)
    return np.where(w > 0, top, -1), np.divide(w, total, out=np.zeros_like(w), where=total > 0)


def _sparse_links(n: int, rows: Ints, cols: Ints, k: int) -> tuple[Ints, Array]:
    """(n, k) neighbour columns of each row from (row, col) pairs, the first ``k`` per row, equal weights."""
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    rank = np.arange(len(rows)) - np.searchsorted(rows, rows)  # position within its row
    keep = rank < k
    index = np.full((n, k), -1, dtype=np.int64)
    index[rows[keep], rank[keep]] = cols[keep]
    return index, (index >= 0).astype(np.float64)
