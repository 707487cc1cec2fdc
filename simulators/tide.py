"""Saigon River tide from harmonic constituents (astronomy in ``forecasting.astronomy``).

The result is a mixed, mainly semidiurnal tide with a fortnightly spring-neap cycle, a
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

import numpy as np
import numpy.typing as npt

from forecasting.astronomy import synthesize

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


def predict(
    times: npt.NDArray[np.float64],
    amplitudes: dict[str, tuple[float, float]],
    z0: float = 0.0,
    lags_s: npt.NDArray[np.float64] | None = None,
    gains: npt.NDArray[np.float64] | None = None,
) -> npt.NDArray[np.float64]:
    """Tide at ``times`` (Unix s); with ``lags_s``/``gains`` (n_sites,) one row per site, delayed and scaled."""
    names = list(amplitudes)
    amp = np.array([[amplitudes[n][0] for n in names]])
    phase = np.array([[amplitudes[n][1] for n in names]])
    if lags_s is None:
        one: npt.NDArray[np.float64] = synthesize(times, names, amp, phase, z0)[0]
        return one
    scale = np.ones(len(lags_s)) if gains is None else np.asarray(gains, dtype=np.float64)
    return synthesize(times, names, scale[:, None] * amp, np.repeat(phase, len(lags_s), axis=0), z0, lags_s)


def phu_an(times: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The Saigon River at Phu An (m above the Hon Dau datum)."""
    return predict(times, PHU_AN, PHU_AN_Z0_M)
