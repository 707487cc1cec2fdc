"""Saigon River tide from harmonic constituents, with astronomical arguments and nodal corrections.

The level is ``Z0 + sum_k f_k A_k cos(V_k(t) + u_k - g_k)``: ``V`` the equilibrium argument from
the Moon's and Sun's mean longitudes (Meeus' polynomials, J2000), ``f, u`` the 18.6-year nodal
corrections (Schureman 1958, the usual first-order series), ``A, g`` amplitude and Greenwich phase
lag. The result is a mixed, mainly semidiurnal tide with a fortnightly spring-neap cycle, a
diurnal inequality, and - through the annual ``Sa`` and semi-annual ``Ssa`` terms, which carry the
monsoon-driven mean sea level of the South China Sea - the high tides of October to December.

Amplitudes (metres, at Phu An, Hon Dau datum) are *illustrative*, not an analysis of Phu An data:
M2, S2, K1, O1 follow the regional pattern of Vung Tau at the river mouth (form number
(K1+O1)/(M2+S2) near 1, see Fang et al. 1999, Continental Shelf Research 19: 845-869) damped by
about 15 % up-river; N2, K2, P1, Q1 take their equilibrium ratios to M2, S2, K1, O1; the shallow-water
M4 and MS4 grow up-river; Z0, Sa and Ssa are set so that yearly highs reach 1.6-1.8 m in
October-December, the level of the king tides recorded at Phu An in recent years (alarm levels
I-III are 1.4, 1.5, 1.6 m).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

J2000_UNIX = 946_728_000.0  # 2000-01-01 12:00 UTC
DAYS_PER_CENTURY = 36_525.0


@dataclass(frozen=True)
class Constituent:
    name: str
    doodson: tuple[int, int, int, int, int, int]  # multipliers of tau, s, h, p, N', p1
    phase_deg: float  # the constant part of V, as Schureman (1958): K1 = T + h - 90, O1 = T - 2s + h + 90, ...
    nodal: str  # which nodal correction family: "M2", "K1", "O1", "K2", "M4", "none"


CONSTITUENTS: dict[str, Constituent] = {
    c.name: c
    for c in (
        Constituent("M2", (2, 0, 0, 0, 0, 0), 0, "M2"),
        Constituent("S2", (2, 2, -2, 0, 0, 0), 0, "none"),
        Constituent("N2", (2, -1, 0, 1, 0, 0), 0, "M2"),
        Constituent("K2", (2, 2, 0, 0, 0, 0), 0, "K2"),
        Constituent("K1", (1, 1, 0, 0, 0, 0), -90, "K1"),
        Constituent("O1", (1, -1, 0, 0, 0, 0), 90, "O1"),
        Constituent("P1", (1, 1, -2, 0, 0, 0), 90, "none"),
        Constituent("Q1", (1, -2, 0, 1, 0, 0), 90, "O1"),
        Constituent("M4", (4, 0, 0, 0, 0, 0), 0, "M4"),
        Constituent("MS4", (4, 2, -2, 0, 0, 0), 0, "M2"),
        Constituent("Sa", (0, 0, 1, 0, 0, 0), 0, "none"),
        Constituent("Ssa", (0, 0, 2, 0, 0, 0), 0, "none"),
    )
}

# Phu An, Saigon River: (amplitude m, Greenwich phase lag deg). Illustrative, see the module docstring.
PHU_AN_Z0_M = 0.05
PHU_AN: dict[str, tuple[float, float]] = {
    "M2": (0.80, 62.0),
    "S2": (0.30, 108.0),
    "N2": (0.15, 40.0),
    "K2": (0.08, 105.0),
    "K1": (0.60, 155.0),
    "O1": (0.45, 105.0),
    "P1": (0.20, 150.0),
    "Q1": (0.09, 85.0),
    "M4": (0.06, 210.0),
    "MS4": (0.04, 260.0),
    "Sa": (0.18, 230.0),  # mean level highest in November (NE monsoon set-up)
    "Ssa": (0.05, 110.0),
}


def _julian_centuries(unix_s: npt.ArrayLike) -> npt.NDArray[np.float64]:
    return (np.asarray(unix_s, dtype=np.float64) - J2000_UNIX) / 86_400.0 / DAYS_PER_CENTURY


def astronomical_longitudes(unix_s: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """(tau, s, h, p, N', p1) in degrees at the given times; shape (..., 6).

    tau is mean lunar time at Greenwich, s/h the Moon's/Sun's mean longitudes, p the lunar perigee,
    N' = -N the negated longitude of the Moon's ascending node, p1 the solar perigee.
    """
    t = _julian_centuries(unix_s)
    s = 218.3164477 + 481_267.88123421 * t
    h = 280.46646 + 36_000.76983 * t
    p = 83.3532465 + 4_069.0137287 * t
    node = 125.04452 - 1_934.136261 * t
    p1 = 282.93735 + 1.71946 * t
    hours = (np.asarray(unix_s, dtype=np.float64) / 3600.0) % 24.0
    tau = 15.0 * hours + 180.0 + h - s
    return np.stack([tau, s, h, p, -node, p1], axis=-1)


def speeds_deg_per_hour(names: list[str]) -> npt.NDArray[np.float64]:
    """Angular speeds from the Doodson numbers (M2: 28.984104 deg/h)."""
    rates = (astronomical_longitudes(3600.0 * 24 * 365.25 * 100) - astronomical_longitudes(0.0)) / (24 * 365.25 * 100)
    rates[0] = 15.0 + rates[2] - rates[1]  # tau advances with the clock, not modulo 24 h
    return np.array([np.dot(CONSTITUENTS[n].doodson, rates) for n in names])


def nodal_corrections(names: list[str], unix_s: float) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Amplitude factors f and phase corrections u (degrees) at one instant (mid-record, as NOAA does)."""
    node = np.radians(125.04452 - 1_934.136261 * float(_julian_centuries(unix_s)))
    c1, c2, c3 = np.cos(node), np.cos(2 * node), np.cos(3 * node)
    s1, s2, s3 = np.sin(node), np.sin(2 * node), np.sin(3 * node)
    m2 = (1.0004 - 0.0373 * c1 + 0.0002 * c2, -2.14 * s1)
    families = {
        "none": (1.0, 0.0),
        "M2": m2,
        "K1": (1.0060 + 0.1150 * c1 - 0.0088 * c2 + 0.0006 * c3, -8.86 * s1 + 0.68 * s2 - 0.07 * s3),
        "O1": (1.0089 + 0.1871 * c1 - 0.0147 * c2 + 0.0014 * c3, 10.80 * s1 - 1.34 * s2 + 0.19 * s3),
        "K2": (1.0241 + 0.2863 * c1 + 0.0083 * c2 - 0.0015 * c3, -17.74 * s1 + 0.68 * s2 - 0.04 * s3),
        "M4": (m2[0] ** 2, 2 * m2[1]),
    }
    f = np.array([families[CONSTITUENTS[n].nodal][0] for n in names], dtype=np.float64)
    u = np.array([families[CONSTITUENTS[n].nodal][1] for n in names], dtype=np.float64)
    return f, u


def equilibrium_arguments(names: list[str], unix_s: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """V (degrees) of each constituent at each time; shape (len(times), len(names))."""
    doodson = np.array([CONSTITUENTS[n].doodson for n in names], dtype=np.float64)
    constant = np.array([CONSTITUENTS[n].phase_deg for n in names])
    args: npt.NDArray[np.float64] = astronomical_longitudes(np.atleast_1d(unix_s)) @ doodson.T + constant
    return args


def predict(
    times: npt.NDArray[np.float64],
    amplitudes: dict[str, tuple[float, float]],
    z0: float = 0.0,
    lags_s: npt.NDArray[np.float64] | None = None,
    gains: npt.NDArray[np.float64] | None = None,
) -> npt.NDArray[np.float64]:
    """Tide at ``times`` (Unix s); with ``lags_s``/``gains`` (n_sites,) one row per site, delayed and scaled.

    Computed as one complex matrix product: row k of the basis is ``exp(i V_k(t))``, each site's
    coefficient ``f A exp(i(u - g - omega lag))``, so thousands of sites cost one (n_sites, K) @ (K, T).
    """
    names = list(amplitudes)
    amp = np.array([amplitudes[n][0] for n in names])
    phase = np.radians([amplitudes[n][1] for n in names])
    mid = float(times[len(times) // 2]) if len(times) else 0.0
    f, u = nodal_corrections(names, mid)
    v0 = np.radians(equilibrium_arguments(names, times[:1]))[0]
    omega = np.radians(speeds_deg_per_hour(names)) / 3600.0  # rad/s
    basis = np.exp(1j * (v0[:, None] + omega[:, None] * (times - times[0])[None, :]))  # (K, T)
    lags = np.zeros(1) if lags_s is None else np.asarray(lags_s, dtype=np.float64)
    scale = np.ones_like(lags) if gains is None else np.asarray(gains, dtype=np.float64)
    coeff = scale[:, None] * f * amp * np.exp(1j * (np.radians(u) - phase - omega * lags[:, None]))  # (S, K)
    level = z0 + (coeff @ basis).real
    result: npt.NDArray[np.float64] = level[0] if lags_s is None else level
    return result


def phu_an(times: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The Saigon River at Phu An (m above the Hon Dau datum)."""
    return predict(times, PHU_AN, PHU_AN_Z0_M)
