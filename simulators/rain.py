"""Monsoon rain as convective storm cells that are born, move, merge and decay.

Ho Chi Minh City has a wet season from May to November (roughly 250-330 mm a month) and a nearly
dry season from December to April. Rain comes mostly from afternoon convective storms. Each
storm here is a *multicell system*: its cells are born one after another on the system's
forward flank, each grows to its peak within 10-25 minutes, rains hard (tens of mm/h, sometimes
past 100 mm/h) and decays over the next hour; the whole system drifts with the day's steering
wind, which comes from a different direction on different days (mostly towards the west-south-
west, but any direction happens, and some days are nearly calm). Cells whose paths meet merge:
the smaller one dies and the larger one grows. Nearby gauges see the same cells, so their records
are correlated; distant ones are not. Cells are drawn per day (deterministic under the seed) and
rendered onto the sites as a Gaussian footprint whose intensity and width follow the cell's life.

The statistics (docs/simulators.md compares them with published radar climatologies): cell
lifetimes median ~53 min (quartiles 42-68), speeds median ~15 km/h (10th-90th percentile 8-27),
footprint radii median ~4.3 km, one cell in fifteen absorbed by a merger; a system of 1-6
generations lives one to three hours.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from forecasting.calendar import LOCAL_UTC_OFFSET_S

# Mean storm systems per day over the city, by month (Jan..Dec): about 280 mm/month in the wet season.
SYSTEMS_PER_DAY = (0.08, 0.05, 0.17, 1.2, 4.6, 6.8, 6.4, 6.8, 7.5, 7.2, 4.1, 0.75)
CITY_EXTENT_KM = 24.0  # systems are born within this half-width of the city origin
PREVAILING_TOWARD_DEG = 250.0  # compass bearing storms most often move towards (west-south-west)
DIRECTION_SPREAD = 1.0  # von Mises concentration of the day's steering direction: broad, any bearing happens
MEDIAN_SPEED_KM_H = 15.0
MERGE_DISTANCE = 0.5  # cells merge when their centres come within this share of their radii's sum
MERGE_FADE_S = 600.0  # the absorbed cell's rain fades out over this long
MIN_RATE_MM_H = 0.05  # below what a gauge can resolve


@dataclass(frozen=True)
class StormCell:
    """One convective cell. Born at ``peak_time - growth_s``, it grows to ``peak_mm_h`` at its centre,
    then decays until ``birth + duration_s``; it moves at constant velocity. A merger ends it early
    (``end_time``, the absorbed cell) or strengthens it by ``boost`` from ``boost_time`` on."""

    peak_time: float  # Unix s of the strongest rain at the cell centre
    duration_s: float  # life from birth to death
    peak_mm_h: float
    x_km: float  # centre at peak time, km east of the city origin
    y_km: float
    radius_km: float  # Gaussian width of the footprint at peak
    vx_km_h: float
    vy_km_h: float
    growth_s: float = 1200.0  # from birth to peak
    end_time: float | None = None  # merged into a larger cell at this moment
    boost_time: float | None = None  # absorbed a smaller cell at this moment
    boost: float = 0.0  # relative intensity gained from the absorbed cell

    @property
    def birth(self) -> float:
        return self.peak_time - self.growth_s

    @property
    def death(self) -> float:
        return self.birth + self.duration_s

    def last_rain(self) -> float:
        """When its rain is over: death, or the end of the fade after a merger."""
        return self.death if self.end_time is None else min(self.death, self.end_time + MERGE_FADE_S)

    def position(self, t: float | npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        dt_h = (np.asarray(t, dtype=np.float64) - self.peak_time) / 3600.0
        return self.x_km + self.vx_km_h * dt_h, self.y_km + self.vy_km_h * dt_h

    def shifted(self, seconds: float) -> StormCell:
        """The same cell ``seconds`` later (its merger times move with it)."""
        end = None if self.end_time is None else self.end_time + seconds
        boost = None if self.boost_time is None else self.boost_time + seconds
        return dataclasses.replace(self, peak_time=self.peak_time + seconds, end_time=end, boost_time=boost)


@dataclass(frozen=True)
class Steering:
    """The day's steering wind: cells drift with it (compass bearing they move towards, speed)."""

    toward_deg: float
    speed_km_h: float

    def velocity(self) -> tuple[float, float]:
        bearing = np.radians(self.toward_deg)
        return float(self.speed_km_h * np.sin(bearing)), float(self.speed_km_h * np.cos(bearing))


def draw_steering(rng: np.random.Generator) -> Steering:
    """A day's steering: direction broadly around the prevailing one, lognormal speed (2-45 km/h)."""
    toward = np.degrees(rng.vonmises(np.radians(PREVAILING_TOWARD_DEG), DIRECTION_SPREAD)) % 360
    return Steering(float(toward), float(np.clip(rng.lognormal(np.log(MEDIAN_SPEED_KM_H), 0.5), 2.0, 45.0)))


def system_cells(
    start: float,
    origin_km: tuple[float, float],
    steering: Steering,
    rng: np.random.Generator,
    generations: int,
    per_generation: int = 1,
    line_km: float = 0.0,
    peak_median_mm_h: float = 35.0,
    peak_spread: float = 0.5,
) -> list[StormCell]:
    """The cells of one multicell system whose first generation is born at ``start`` around ``origin_km``.

    Each generation is born 10-25 minutes after the previous one, 3-8 km ahead of where the system's
    cells then are, within 60 degrees of the steering direction (new cells grow on the forward
    flank, so the system propagates a little faster than its cells move). A generation is one cell
    (an ordinary multicell storm) or ``per_generation`` cells spread along a line ``line_km`` long
    across the motion (a squall line). Peaks are lognormal around ``peak_median_mm_h`` with log-spread
    ``peak_spread``.
    """
    vx, vy = steering.velocity()
    heading = np.radians(steering.toward_deg)
    across = np.array([np.cos(heading), -np.sin(heading)])  # unit vector 90 degrees right of the motion
    cells: list[StormCell] = []
    x, y, born = origin_km[0], origin_km[1], start
    for g in range(generations):
        if g:
            gap = float(rng.uniform(600, 1500))
            flank = heading + rng.uniform(-np.pi / 3, np.pi / 3)
            step = rng.uniform(3.0, 8.0)
            x += vx * gap / 3600 + step * np.sin(flank)
            y += vy * gap / 3600 + step * np.cos(flank)
            born += gap
        for k in range(per_generation):
            offset = (k / (per_generation - 1) - 0.5) * line_km if per_generation > 1 else 0.0
            jitter = rng.normal(0.0, 1.0, 2)
            cx, cy = x + offset * across[0] + jitter[0], y + offset * across[1] + jitter[1]
            cell_born = born + float(rng.uniform(0, 300))
            growth = float(rng.uniform(600, 1500))
            duration = float(np.clip(rng.lognormal(np.log(3300), 0.35), growth + 900, 3 * 3600))
            cvx, cvy = vx + rng.normal(0.0, 2.5), vy + rng.normal(0.0, 2.5)  # cells wander a little
            cells.append(
                StormCell(
                    peak_time=cell_born + growth,
                    duration_s=duration,
                    peak_mm_h=float(np.clip(rng.lognormal(np.log(peak_median_mm_h), peak_spread), 3, 150)),
                    x_km=float(cx + cvx * growth / 3600),
                    y_km=float(cy + cvy * growth / 3600),
                    radius_km=float(np.clip(rng.lognormal(np.log(4.3), 0.3), 1.5, 9.0)),
                    vx_km_h=float(cvx),
                    vy_km_h=float(cvy),
                    growth_s=growth,
                )
            )
    return cells


def draw_cells(start: float, end: float, rng: np.random.Generator) -> list[StormCell]:
    """Storm cells whose rain falls in [start, end): afternoon-heavy systems of 1-6 cells, merged."""
    cells: list[StormCell] = []
    first_day = int((start + LOCAL_UTC_OFFSET_S) // 86_400)
    last_day = int((end + LOCAL_UTC_OFFSET_S) // 86_400)
    for day in range(first_day, last_day + 1):
        midnight = day * 86_400 - LOCAL_UTC_OFFSET_S
        month = datetime.fromtimestamp(midnight + LOCAL_UTC_OFFSET_S + 43_200, UTC).month
        steering = draw_steering(rng)
        n = rng.poisson(SYSTEMS_PER_DAY[month - 1] * rng.gamma(2.0, 0.5))  # convective days cluster systems
        afternoon = rng.random(n) < 0.8
        hour = np.where(afternoon, rng.normal(14.5, 1.6, n), rng.uniform(0, 24, n))
        today: list[StormCell] = []
        for i in range(n):
            origin = (float(rng.uniform(-CITY_EXTENT_KM, CITY_EXTENT_KM)),
                      float(rng.uniform(-CITY_EXTENT_KM, CITY_EXTENT_KM)))  # fmt: skip
            generations = int(min(rng.geometric(0.35), 6))
            born = midnight + float(np.clip(hour[i], 0, 23.5)) * 3600
            today += system_cells(born, origin, steering, rng, generations)
        cells += merge(today)
    return [c for c in cells if c.last_rain() > start and c.birth < end]


def merge(cells: Sequence[StormCell]) -> list[StormCell]:
    """Cells whose centres move within ``MERGE_DISTANCE`` of their radii's sum while both live merge:
    the weaker then (intensity x area) ends there and the stronger gains a share of its rain. Pairs are taken
    in the order their meetings happen; a cell already absorbed meets nobody later."""
    cells = list(cells)
    meetings: list[tuple[float, int, int]] = []
    for i in range(len(cells)):
        for j in range(i + 1, len(cells)):
            t = _meeting(cells[i], cells[j])
            if t is not None:
                meetings.append((t, i, j))
    for t, i, j in sorted(meetings):
        a, b = cells[i], cells[j]
        if (a.end_time is not None and a.end_time <= t) or (b.end_time is not None and b.end_time <= t):
            continue
        at = np.array([t])
        power = [float(p[0] * r[0] ** 2) for p, r in (envelope(a, at), envelope(b, at))]
        strong, weak = (i, j) if power[0] >= power[1] else (j, i)
        s, w = cells[strong], cells[weak]
        gain = min(0.5, 0.5 * min(power) / max(max(power), 1e-9))
        cells[weak] = dataclasses.replace(w, end_time=t)
        cells[strong] = dataclasses.replace(s, boost_time=t, boost=s.boost + gain,
                                            duration_s=s.duration_s + 600.0 * gain / 0.5)  # fmt: skip
    return cells


def _meeting(a: StormCell, b: StormCell) -> float | None:
    """The first moment both live and their centres, apart when the younger was born, come within the
    merge distance, if any."""
    lo, hi = max(a.birth, b.birth), min(a.death, b.death)
    if lo >= hi:
        return None
    ax, ay = a.position(lo)
    bx, by = b.position(lo)
    dx, dy = float(ax - bx), float(ay - by)
    dvx, dvy = (a.vx_km_h - b.vx_km_h) / 3600, (a.vy_km_h - b.vy_km_h) / 3600
    reach = MERGE_DISTANCE * (a.radius_km + b.radius_km)
    # |d + dv s|^2 = reach^2, s >= 0 seconds after lo
    qa, qb, qc = dvx**2 + dvy**2, 2 * (dx * dvx + dy * dvy), dx**2 + dy**2 - reach**2
    if qc <= 0:  # born within reach of each other: one complex (new cells on a flank), not a merger
        return None
    if qa == 0 or qb * qb - 4 * qa * qc < 0:
        return None
    s = (-qb - np.sqrt(qb * qb - 4 * qa * qc)) / (2 * qa)
    return lo + float(s) if 0 <= s and lo + s < hi else None


def envelope(cell: StormCell, t: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(intensity at the centre in mm/h, footprint width in km) at times ``t`` of the cell's life.

    Growth follows a sine-squared rise (an updraft building), decay an exponential of a third of
    the remaining life, tapered to zero at death; the footprint widens as the cell matures and
    spreads as it rains out. An absorbed cell fades within ``MERGE_FADE_S``; a boosted one
    strengthens over ten minutes.
    """
    grow = np.clip((t - cell.birth) / cell.growth_s, 0.0, 1.0)
    decay_span = max(cell.death - cell.peak_time, 1.0)
    u = np.clip((t - cell.peak_time) / decay_span, 0.0, 1.0)
    shape = np.where(t < cell.peak_time, np.sin(0.5 * np.pi * grow) ** 2, np.exp(-3.0 * u) * (1 - u**4))
    shape = np.where((t < cell.birth) | (t > cell.death), 0.0, shape)
    if cell.end_time is not None:
        shape = shape * np.clip(1.0 - (t - cell.end_time) / MERGE_FADE_S, 0.0, 1.0)
    if cell.boost_time is not None:
        shape = shape * (1.0 + cell.boost * np.clip((t - cell.boost_time) / 600.0, 0.0, 1.0))
    width = cell.radius_km * np.where(t < cell.peak_time, 0.6 + 0.4 * grow, 1.0 + 0.3 * u)
    return cell.peak_mm_h * shape, width


def intensity(
    cells: Sequence[StormCell], times: npt.NDArray[np.float64], xy_km: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Rain rate (mm/h) at each site (rows, from (n_sites, 2) km positions) and time (columns)."""
    rate = np.zeros((len(xy_km), len(times)))
    for cell in cells:  # a few cells a day; each is vectorised over sites x its own time span
        lo, hi = np.searchsorted(times, [cell.birth, cell.last_rain()])
        if lo >= hi:
            continue
        t = times[lo:hi]
        peak, width = envelope(cell, t)
        cx, cy = cell.position(t)
        d2 = (xy_km[:, :1] - cx[None, :]) ** 2 + (xy_km[:, 1:] - cy[None, :]) ** 2
        rate[:, lo:hi] += peak[None, :] * np.exp(-d2 / (2 * width[None, :] ** 2))
    rate[rate < MIN_RATE_MM_H] = 0.0
    return rate
