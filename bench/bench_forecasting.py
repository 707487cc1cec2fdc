"""Forecasting benchmarks.

    python bench/bench_forecasting.py tide [--gauges 1000] [--days 365] [--utide-gauges 10]

``tide``: harmonic analysis of ``--gauges`` hourly records (synthetic: NOAA's Mayport constants
with each gauge's amplitudes and phases perturbed, plus noise) in one batched solve, against
UTide solving gauges one at a time with the same constituents (timed on ``--utide-gauges`` of
them, per gauge). Prints both rates and their ratio, and the largest M2 disagreement.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from forecasting import tide  # noqa: E402
from forecasting.astronomy import CONSTITUENTS  # noqa: E402
from forecasting.series import Series  # noqa: E402

NOAA = REPO / "tests" / "data" / "mayport_florida_8720220_con_noaa.txt"
UTIDE_NAMES = {"Sa": "SA", "Ssa": "SSA", "M1": "NO1", "LAM2": "LDA2"}


def _records(gauges: int, days: float, seed: int = 0) -> tuple[Series, list[str]]:
    lines = NOAA.read_text().splitlines()
    table = {ln.split()[1]: (float(ln.split()[2]), float(ln.split()[3])) for ln in lines if ln[:3].strip().isdigit()}
    names = [n for n, (a, _) in table.items() if n in CONSTITUENTS and a > 0]
    rng = np.random.default_rng(seed)
    amp = np.array([table[n][0] for n in names]) * rng.uniform(0.5, 1.5, (gauges, len(names)))
    phase = (np.array([table[n][1] for n in names]) + rng.uniform(-60, 60, (gauges, len(names)))) % 360
    times = datetime(2017, 1, 1, tzinfo=UTC).timestamp() + 3600.0 * np.arange(int(days * 24))
    level = tide.synthesize(times, names, amp, phase, 0.0) + rng.normal(0, 0.05, (gauges, len(times)))
    return Series(float(times[0]), 3600.0, level), names


def bench_tide(args: argparse.Namespace) -> None:
    import utide

    series, _ = _records(args.gauges, args.days)
    began = time.perf_counter()
    fitted = tide.analyse(series, inference=())
    ours = time.perf_counter() - began
    stamps = np.array([np.datetime64(int(t), "s") for t in series.times()])
    names = [UTIDE_NAMES.get(n, n) for n in fitted.names]
    began = time.perf_counter()
    m2_gap = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for g in range(args.utide_gauges):
            ref = utide.solve(stamps, series.values[g], lat=30.0, constit=names, method="ols", conf_int="none",
                              trend=False, nodal=True, verbose=False)  # fmt: skip
            k = list(ref.name).index("M2")
            m2_gap = max(m2_gap, abs(float(ref.A[k]) - float(fitted.of("M2")[0][g])))
    per_gauge_utide = (time.perf_counter() - began) / args.utide_gauges
    print(f"tide: {args.gauges:,} gauges x {series.n_time:,} hourly values, {len(fitted.names)} constituents: "
          f"batched {ours:.2f} s ({args.gauges / ours:,.0f} gauges/s); UTide {per_gauge_utide * 1000:.0f} ms per gauge "
          f"({1 / per_gauge_utide:,.1f} gauges/s); speed-up {per_gauge_utide * args.gauges / ours:,.0f}x; "
          f"largest M2 amplitude difference {m2_gap * 1000:.2f} mm")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    tide_args = sub.add_parser("tide")
    tide_args.add_argument("--gauges", type=int, default=1000)
    tide_args.add_argument("--days", type=float, default=365)
    tide_args.add_argument("--utide-gauges", type=int, default=10)
    args = parser.parse_args()
    bench_tide(args)


if __name__ == "__main__":
    main()
