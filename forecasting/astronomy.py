"""Tidal astronomy: constituents, equilibrium arguments, nodal corrections, harmonic synthesis.

A tide is ``Z0 + sum_k f_k A_k cos(V_k(t) + u_k - g_k)``: ``V`` the equilibrium argument from the
Moon's and Sun's mean longitudes (Meeus' polynomials, J2000) and each constituent's Doodson
numbers, ``f, u`` the 18.6-year nodal corrections (Schureman 1958, the usual series), ``A, g``
amplitude and Greenwich phase lag - the convention of NOAA's published harmonic constants, so
that analysed phases compare with them directly. Shared by the simulators (to make a tide) and
by the forecasting engine (to analyse and predict one).
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
    nodal: str  # the nodal correction family (see ``nodal_corrections``); "none" for solar constituents


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
        Constituent("MM", (0, 1, 0, -1, 0, 0), 0, "MM"),
        Constituent("MSF", (0, 2, -2, 0, 0, 0), 0, "none"),
        Constituent("MF", (0, 2, 0, 0, 0, 0), 0, "MF"),
        Constituent("2Q1", (1, -3, 0, 2, 0, 0), 90, "O1"),
        Constituent("RHO1", (1, -2, 2, -1, 0, 0), 90, "O1"),
        Constituent("M1", (1, 0, 0, 0, 0, 0), 90, "O1"),  # approximated by O1's correction
        Constituent("S1", (1, 1, -1, 0, 0, 0), 180, "none"),
        Constituent("J1", (1, 2, 0, -1, 0, 0), -90, "J1"),
        Constituent("OO1", (1, 3, 0, 0, 0, 0), -90, "OO1"),
        Constituent("2N2", (2, -2, 0, 2, 0, 0), 0, "M2"),
        Constituent("MU2", (2, -2, 2, 0, 0, 0), 0, "M2"),
        Constituent("NU2", (2, -1, 2, -1, 0, 0), 0, "M2"),
        Constituent("LAM2", (2, 1, -2, 1, 0, 0), 180, "M2"),
        Constituent("L2", (2, 1, 0, -1, 0, 0), 180, "M2"),  # approximated by M2's correction
        Constituent("T2", (2, 2, -3, 0, 0, 1), 0, "none"),
        Constituent("M3", (3, 0, 0, 0, 0, 0), 180, "M3"),
        Constituent("MK3", (3, 1, 0, 0, 0, 0), -90, "MK3"),
        Constituent("MN4", (4, -1, 0, 1, 0, 0), 0, "M4"),
        Constituent("S4", (4, 4, -4, 0, 0, 0), 0, "none"),
        Constituent("M6", (6, 0, 0, 0, 0, 0), 0, "M6"),
    )
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


def nodal_corrections(
    names: list[str], unix_s: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Amplitude factors f and phase corrections u (degrees) at each given instant: shape (..., K).

    They follow the Moon's node (18.6 years), so they are taken at every time, as UTide does: a
    tide predicted for a given hour must not depend on how long a span it was asked with.
    """
    node = np.radians(125.04452 - 1_934.136261 * _julian_centuries(unix_s))[..., None]
    c1, c2, c3 = np.cos(node), np.cos(2 * node), np.cos(3 * node)
    s1, s2, s3 = np.sin(node), np.sin(2 * node), np.sin(3 * node)
    one, zero = np.ones_like(node), np.zeros_like(node)
    m2 = (1.0004 - 0.0373 * c1 + 0.0002 * c2, -2.14 * s1)
    families = {
        "none": (one, zero),
        "M2": m2,
        "K1": (1.0060 + 0.1150 * c1 - 0.0088 * c2 + 0.0006 * c3, -8.86 * s1 + 0.68 * s2 - 0.07 * s3),
        "O1": (1.0089 + 0.1871 * c1 - 0.0147 * c2 + 0.0014 * c3, 10.80 * s1 - 1.34 * s2 + 0.19 * s3),
        "K2": (1.0241 + 0.2863 * c1 + 0.0083 * c2 - 0.0015 * c3, -17.74 * s1 + 0.68 * s2 - 0.04 * s3),
        "M4": (m2[0] ** 2, 2 * m2[1]),
        "M6": (m2[0] ** 3, 3 * m2[1]),
        "M3": (m2[0] ** 1.5, 1.5 * m2[1]),
        "MM": (1.0000 - 0.1300 * c1 + 0.0013 * c2, zero),
        "MF": (1.0429 + 0.4135 * c1 - 0.0040 * c2, -23.74 * s1 + 2.68 * s2 - 0.38 * s3),
        "J1": (1.0129 + 0.1676 * c1 - 0.0170 * c2 + 0.0016 * c3, -12.94 * s1 + 1.34 * s2 - 0.19 * s3),
        "OO1": (1.1027 + 0.6504 * c1 + 0.0317 * c2 - 0.0014 * c3, -36.68 * s1 + 4.02 * s2 - 0.57 * s3),
    }
    families["MK3"] = (m2[0] * families["K1"][0], m2[1] + families["K1"][1])
    f = np.concatenate([families[CONSTITUENTS[n].nodal][0] for n in names], axis=-1) if names else node[..., :0]
    u = np.concatenate([families[CONSTITUENTS[n].nodal][1] for n in names], axis=-1) if names else node[..., :0]
    return np.asarray(f, dtype=np.float64), np.asarray(u, dtype=np.float64)


def equilibrium_arguments(names: list[str], unix_s: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """V (degrees) of each constituent at each time; shape (len(times), len(names))."""
    doodson = np.array([CONSTITUENTS[n].doodson for n in names], dtype=np.float64)
    constant = np.array([CONSTITUENTS[n].phase_deg for n in names])
    args: npt.NDArray[np.float64] = astronomical_longitudes(np.atleast_1d(unix_s)) @ doodson.T + constant
    return args


def synthesize(
    times: npt.NDArray[np.float64],
    names: list[str],
    amplitude: npt.NDArray[np.float64],
    phase_deg: npt.NDArray[np.float64],
    z0: npt.NDArray[np.float64] | float = 0.0,
    lags_s: npt.NDArray[np.float64] | None = None,
) -> npt.NDArray[np.float64]:
    """Tide at ``times`` for every gauge: (n_gauges, n_times) from (n_gauges, K) amplitudes and phases.

    One complex matrix product: row k of the basis is ``f_k(t) exp(i (V_k(t) + u_k(t)))``, each
    gauge's coefficient ``A exp(-i(g + omega lag))``, so thousands of gauges cost one (n_gauges, K) @
    (K, T). Nodal corrections are taken at every time; ``lags_s`` delays each gauge's tide.
    """
    amp = np.atleast_2d(amplitude)
    phase = np.radians(np.atleast_2d(phase_deg))
    f, u = nodal_corrections(names, times)  # (T, K)
    v0 = np.radians(equilibrium_arguments(names, times[:1]))[0]
    omega = np.radians(speeds_deg_per_hour(names)) / 3600.0  # rad/s
    angle = v0[:, None] + omega[:, None] * (times - times[:1])[None, :] + np.radians(u.T)
    basis = f.T * np.exp(1j * angle)  # (K, T)
    lags = np.zeros((amp.shape[0], 1)) if lags_s is None else np.asarray(lags_s, dtype=np.float64)[:, None]
    coeff = amp * np.exp(-1j * (phase + omega * lags))  # (G, K)
    level: npt.NDArray[np.float64] = np.asarray(z0, dtype=np.float64).reshape(-1, 1) + (coeff @ basis).real
    return level
