"""The virtual city's places: bundled Ho Chi Minh City sites, their sensors, and scaled-up fleets.

``data/sites.csv`` holds 48 real places (approximate coordinates, for simulation only): flood-prone
streets, river and canal gauges, rain gauges and traffic hotspots. ``city_sites(n)`` returns n
sites: the bundled ones first (kinds interleaved so a small city still has every kind), then
virtual neighbours of them (jittered position and parameters) to build fleets of any size.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources

import numpy as np
import numpy.typing as npt

from edge import protocol
from edge.protocol import Kind
from forecasting.geo import local_km


class SiteKind(StrEnum):
    STREET = "street"  # flood-prone street: water depth on the road, rain, traffic of the street
    CANAL = "canal"  # river or canal gauge: stage above the Hon Dau datum, rain
    RAIN = "rain"  # rain gauge
    JUNCTION = "junction"  # traffic hotspot


SENSOR_KINDS_AT: dict[SiteKind, tuple[str, ...]] = {
    SiteKind.STREET: (Kind.WATER_LEVEL, Kind.RAINFALL, Kind.TRAFFIC_COUNT, Kind.TRAFFIC_SPEED),
    SiteKind.CANAL: (Kind.WATER_LEVEL, Kind.RAINFALL),
    SiteKind.RAIN: (Kind.RAINFALL,),
    SiteKind.JUNCTION: (Kind.TRAFFIC_COUNT, Kind.TRAFFIC_SPEED, Kind.RAINFALL),
}

STREET_FLOOD_DEPTH_M = 0.10  # water on the road deep enough to report (ankle deep, motorbikes stall at ~0.3)
CANAL_ALARM_M = 1.40  # HCMC tidal alarm level I at Phu An (levels II, III: 1.50 m, 1.60 m)
CONGESTED_SPEED_KMH = 15.0  # mean speed below which a segment counts as jammed
DESIGN_RUNOFF = 0.8  # runoff coefficient of sealed city ground, as drainage design assumes it

CITY_LAT0, CITY_LON0 = 10.7769, 106.7009  # Ben Thanh area, origin of the local km grid


@dataclass(frozen=True)
class Site:
    site_id: str  # also the device id of the site's edge box
    name: str
    kind: SiteKind
    lat: float
    lon: float
    ward: str
    district: str
    ground_m: float = float("nan")  # street crown / bank crest above datum
    drain_mm_h: float = float("nan")  # drainage capacity of a street
    tide_lag_min: float = 0.0  # delay of the river tide behind Phu An
    river_km: float = float("nan")  # distance of a street to the river or canal its drains empty into

    @property
    def sensor_kinds(self) -> tuple[str, ...]:
        return SENSOR_KINDS_AT[self.kind]


@dataclass(frozen=True)
class SensorRef:
    """One sensor of the virtual fleet: row ``index`` of every (n_sensors, n_steps) array."""

    index: int
    site_index: int
    device_id: str
    name: str  # SenML name relative to the device, ``kind``
    kind: str
    unit: str

    @property
    def full_name(self) -> str:
        return f"{self.device_id}/{self.name}"


def bundled_sites() -> list[Site]:
    text = resources.files("simulators").joinpath("data/sites.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(io.StringIO("".join(line for line in text.splitlines(True) if not line.startswith("#"))))
    return [
        Site(
            site_id=row["site_id"],
            name=row["name"],
            kind=SiteKind(row["kind"]),
            lat=float(row["lat"]),
            lon=float(row["lon"]),
            ward=row["ward"],
            district=row["district"],
            ground_m=float(row["ground_m"] or "nan"),
            drain_mm_h=float(row["drain_mm_h"] or "nan"),
            tide_lag_min=float(row["tide_lag_min"] or 0),
            river_km=float(row["river_km"] or "nan"),
        )
        for row in rows
    ]


def _interleaved(sites: list[Site]) -> list[Site]:
    """Round-robin over kinds so the first n sites cover every kind."""
    by_kind = [[s for s in sites if s.kind == kind] for kind in SiteKind]
    longest = max(len(group) for group in by_kind)
    return [group[i] for i in range(longest) for group in by_kind if i < len(group)]


def city_sites(n: int, seed: int = 0) -> list[Site]:
    """``n`` sites: the bundled places, then jittered virtual neighbours (deterministic under ``seed``)."""
    if n < 1:
        raise ValueError("a city needs at least one site")
    base = _interleaved(bundled_sites())
    if n <= len(base):
        return base[:n]
    rng = np.random.default_rng(seed)
    extra = []
    for k in range(n - len(base)):
        parent = base[k % len(base)]
        copy_no = k // len(base) + 1
        extra.append(
            Site(
                site_id=f"{parent.site_id}-v{copy_no}",
                name=f"{parent.name} #{copy_no + 1}",
                kind=parent.kind,
                lat=parent.lat + rng.normal(0, 0.012),
                lon=parent.lon + rng.normal(0, 0.012),
                ward=parent.ward,
                district=parent.district,
                ground_m=parent.ground_m + rng.normal(0, 0.06),
                drain_mm_h=parent.drain_mm_h * rng.uniform(0.8, 1.2),
                tide_lag_min=parent.tide_lag_min + rng.uniform(0, 10),
                river_km=parent.river_km,
            )
        )
    return base + extra


def alarm_levels(site: Site) -> dict[str, float]:
    """The levels a site's sensors alarm at (kind -> level): flood depth on streets, alarm level I on canals,
    congestion speed on roads. Registered with the site's device, read by the forecast service."""
    levels: dict[str, float] = {}
    if site.kind == SiteKind.STREET:
        levels[Kind.WATER_LEVEL] = STREET_FLOOD_DEPTH_M
    if site.kind == SiteKind.CANAL:
        levels[Kind.WATER_LEVEL] = CANAL_ALARM_M
    if Kind.TRAFFIC_SPEED in site.sensor_kinds:
        levels[Kind.TRAFFIC_SPEED] = CONGESTED_SPEED_KMH
    return levels


def drainage_facts(site: Site) -> dict[str, float]:
    """What a city's registry knows of a street's drainage (``{}`` for other sites), in the fields the
    forecast service reads from a device's ``drainage`` metadata: crown height (m, the river gauges'
    datum), the rain intensity its drains carry with a low river (mm/h: the design rain, which is
    the drains' runoff capacity over the runoff coefficient) and the distance to the river (km)."""
    if site.kind != SiteKind.STREET:
        return {}
    facts = {"crown_m": site.ground_m, "drain_mm_h": site.drain_mm_h / DESIGN_RUNOFF, "river_km": site.river_km}
    return {k: round(v, 3) for k, v in facts.items() if np.isfinite(v)}


def sensors_of(sites: list[Site]) -> list[SensorRef]:
    """Every sensor of every site, in site order (the row order of the simulator's arrays)."""
    refs: list[SensorRef] = []
    for site_index, site in enumerate(sites):
        for kind in site.sensor_kinds:
            unit = protocol.METRIC_KINDS[kind].unit
            refs.append(SensorRef(len(refs), site_index, site.site_id, kind, kind, unit))
    return refs


def grid_km(sites: list[Site]) -> npt.NDArray[np.float64]:
    """Site positions as (n_sites, 2) km east/north of the city origin."""
    return local_km(np.array([s.lat for s in sites]), np.array([s.lon for s in sites]), (CITY_LAT0, CITY_LON0))


def site_column(sites: list[Site], field: str) -> npt.NDArray[np.float64]:
    return np.array([float(getattr(s, field)) for s in sites])
