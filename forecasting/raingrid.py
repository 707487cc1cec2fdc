"""Rain gauges as a field: a kernel-interpolated rain-rate map on a regular grid, and bilinear reads of it.

A gauge network is sparse (a gauge every few km) and convective cells are a few km wide, so the
field is a smooth interpolation with a prior of *no rain* where no gauge is near: far from every
gauge the map falls to zero instead of copying the nearest one. Reading the map at displaced
points (a position minus a velocity times a lead) is how the nowcast moves rain with the storm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecasting.series import Array

KERNEL_KM = 3.0  # width of a gauge's footprint on the map
ZERO_WEIGHT = 0.1  # weight of the "no rain" prior: a lone gauge at distance 0 counts 10 times as much
GRID_KM = 1.0
MARGIN_KM = 15.0  # the map extends this far beyond the outermost gauges and targets
OWN_GAUGE_KM = 0.3  # a gauge this close to a point measures its rain


@dataclass(frozen=True)
class Grid:
    """A regular grid in local km: cell (iy, ix) has its centre at (x0 + ix * step, y0 + iy * step)."""

    x0: float
    y0: float
    nx: int
    ny: int
    step_km: float = GRID_KM

    @classmethod
    def around(cls, *points_km: Array, step_km: float = GRID_KM, margin_km: float = MARGIN_KM) -> Grid:
        """The grid covering every finite point given, plus ``margin_km`` on each side."""
        xy = np.concatenate([p.reshape(-1, 2) for p in points_km])
        xy = xy[np.isfinite(xy).all(axis=1)]
        if not len(xy):
            xy = np.zeros((1, 2))
        lo, hi = xy.min(axis=0) - margin_km, xy.max(axis=0) + margin_km
        n = np.ceil((hi - lo) / step_km).astype(np.int64) + 1
        return cls(float(lo[0]), float(lo[1]), int(n[0]), int(n[1]), step_km)

    def centres(self) -> Array:
        """(ny * nx, 2) km positions of the cells, row-major."""
        gx, gy = np.meshgrid(self.x0 + self.step_km * np.arange(self.nx), self.y0 + self.step_km * np.arange(self.ny))
        return np.column_stack([gx.ravel(), gy.ravel()])


def rain_map(rates: Array, gauges_km: Array, grid: Grid, kernel_km: float = KERNEL_KM) -> Array:
    """Rain rate (mm/h) on ``grid`` for each column of ``rates`` (n_gauges, n_frames): (n_frames, ny, nx).

    Normalised convolution (Nadaraya-Watson with a Gaussian kernel) with a zero prior: each gauge's
    reading and weight are spread onto its four nearest cells, both grids are blurred by the
    separable Gaussian, and the blurred readings are divided by the blurred weights plus the
    prior's. A missing reading (NaN) carries no weight; gauges without a position are left out.
    Cost grows with the grid, not with gauges x cells.
    """
    placed = np.isfinite(gauges_km).all(axis=1)
    values, where = rates[placed], gauges_km[placed]
    known = np.isfinite(values).astype(np.float64)
    filled = np.where(known > 0, values, 0.0)
    frames = rates.shape[1]
    fx = np.clip((where[:, 0] - grid.x0) / grid.step_km, 0, grid.nx - 1.000001)
    fy = np.clip((where[:, 1] - grid.y0) / grid.step_km, 0, grid.ny - 1.000001)
    ix, iy = fx.astype(np.int64), fy.astype(np.int64)
    wx, wy = fx - ix, fy - iy
    total = np.zeros((grid.ny * grid.nx, frames))
    weight = np.zeros((grid.ny * grid.nx, frames))
    for dy, dx, share in ((0, 0, (1 - wx) * (1 - wy)), (0, 1, wx * (1 - wy)), (1, 0, (1 - wx) * wy), (1, 1, wx * wy)):
        cell = (iy + dy) * grid.nx + ix + dx
        np.add.at(total, cell, share[:, None] * filled)
        np.add.at(weight, cell, share[:, None] * known)
    blur_x, blur_y = _blur(grid.nx, grid.step_km, kernel_km), _blur(grid.ny, grid.step_km, kernel_km)

    def smooth(block: Array) -> Array:
        cube = block.T.reshape(frames, grid.ny, grid.nx)
        out: Array = blur_y @ cube @ blur_x.T
        return out

    field: Array = smooth(total) / (smooth(weight) + ZERO_WEIGHT)
    return field


def coverage(gauges_km: Array, grid: Grid, kernel_km: float = KERNEL_KM) -> Array:
    """(ny, nx) how well the gauges see each cell: the kernel weight of the gauges there (a lone gauge
    right at the cell counts 1). Where it is small the map's zero is ignorance, not dry weather."""
    placed = gauges_km[np.isfinite(gauges_km).all(axis=1)]
    seen = rain_map(np.ones((len(placed), 1)), placed, grid, kernel_km)[0]  # = w / (w + prior)
    weight: Array = ZERO_WEIGHT * seen / np.maximum(1.0 - seen, 1e-9)
    return weight


def _blur(n: int, step_km: float, kernel_km: float) -> Array:
    """(n, n) one-dimensional Gaussian weights between cell centres (unnormalised: a gauge counts 1 at 0 km)."""
    d = step_km * (np.arange(n)[:, None] - np.arange(n)[None, :])
    blur: Array = np.exp(-(d**2) / (2 * kernel_km**2))
    return blur


def read_map(maps: Array, grid: Grid, frame: np.ndarray, x_km: Array, y_km: Array) -> Array:
    """Bilinear reads of ``maps`` (n_frames, ny, nx) at frames and positions (broadcast together); 0 outside."""
    fx = (x_km - grid.x0) / grid.step_km
    fy = (y_km - grid.y0) / grid.step_km
    inside = (fx >= 0) & (fy >= 0) & (fx <= grid.nx - 1) & (fy <= grid.ny - 1)
    fx = np.clip(np.where(inside, fx, 0.0), 0, grid.nx - 1.000001)
    fy = np.clip(np.where(inside, fy, 0.0), 0, grid.ny - 1.000001)
    ix, iy = fx.astype(np.int64), fy.astype(np.int64)
    wx, wy = fx - ix, fy - iy
    flat = maps.reshape(-1)
    base = (np.asarray(frame) * grid.ny + iy) * grid.nx + ix
    value = (
        flat[base] * (1 - wx) * (1 - wy)
        + flat[base + 1] * wx * (1 - wy)
        + flat[base + grid.nx] * (1 - wx) * wy
        + flat[base + grid.nx + 1] * wx * wy
    )
    out: Array = np.where(inside, value, 0.0)
    return out


def point_rain(
    rates: Array, gauges_km: Array, points_km: Array, nearest: int = 16, own_km: float = OWN_GAUGE_KM
) -> Array:
    """Rain (mm/h) at ``points_km`` (n_points, 2) for every column of ``rates``: (n_points, n_time).

    A point with a gauge of its own (within ``own_km``, like a street box that also measures rain)
    takes that gauge's readings where it has them; elsewhere the map's value: the same kernel and
    zero prior as ``rain_map`` (without the grid), from the point's ``nearest`` gauges only, so a
    whole history at thousands of streets stays a gather, not a matrix product over every gauge.
    """
    placed = np.flatnonzero(np.isfinite(gauges_km).all(axis=1))
    if not len(placed):
        return np.zeros((len(points_km), rates.shape[1]))
    d2 = ((points_km[:, None, :] - gauges_km[None, placed, :]) ** 2).sum(axis=2)
    k = min(nearest, len(placed))
    near = np.argpartition(d2, k - 1, axis=1)[:, :k]
    weight = np.exp(-np.take_along_axis(d2, near, axis=1) / (2 * KERNEL_KM**2))  # (P, k)
    values = rates[placed[near]]  # (P, k, T)
    known = np.isfinite(values)
    total = np.einsum("pk,pkt->pt", weight, np.where(known, values, 0.0))
    weights = np.einsum("pk,pkt->pt", weight, known.astype(np.float64))
    mapped = total / (weights + ZERO_WEIGHT)
    closest = np.argmin(np.take_along_axis(d2, near, axis=1), axis=1)
    own = np.take_along_axis(d2, near, axis=1)[np.arange(len(points_km)), closest] <= own_km**2
    reading = rates[placed[near[np.arange(len(points_km)), closest]]]
    out: Array = np.where(own[:, None] & np.isfinite(reading), reading, mapped)
    return out
