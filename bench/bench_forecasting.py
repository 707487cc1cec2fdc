"""Forecasting benchmarks.

    python bench/bench_forecasting.py tide [--gauges 1000] [--days 365] [--utide-gauges 10]
    python bench/bench_forecasting.py speed [--series 10000] [--repeat 3]
    python bench/bench_forecasting.py compare [--subset 12] [--data city|oregon]

``tide``: harmonic analysis of ``--gauges`` hourly records (synthetic: NOAA's Mayport constants
with each gauge's amplitudes and phases perturbed, plus noise) in one batched solve, against
UTide solving gauges one at a time with the same constituents (timed on ``--utide-gauges`` of
them, per gauge). Prints both rates and their ratio, and the largest M2 disagreement.

``speed``: ``ProfileAR`` fit + 24-hour forecast with 80/95 % bands for ``--series`` simulated city
sensors (traffic counts and speeds, water levels, rain: 4,000+ sites) with 14 days (4,032 points)
of 5-minute history, ``--repeat`` times in one process, each run followed by seasonal naive's fit +
forecast with the same bands as a reference measured alongside; then what the service does every five
minutes - ``update`` with the next bucket and ``predict`` 3 hours - timed over 12 buckets; accuracy
on the held-out next day.

``compare``: the engine's models and the other libraries' (statsforecast AutoETS and MSTL,
statsmodels ETS, Prophet) on the same series and the same rolling origins - all series for the
engine, ``--subset`` of them for everyone (the slow ones fit one series at a time). ``city``:
simulated traffic counts, 5-minute data, plus the same series as hourly means (where AutoETS's
seasonality is allowed: it refuses seasons over 24); ``oregon``: real detector counts, 15 minutes.
Prints MAE at 15 min / 1 h / 3 h (hourly: 1 h / 3 h / 24 h), coverage, cost per series and the
speed ratio to the engine.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from forecasting import tide  # noqa: E402
from forecasting.astronomy import CONSTITUENTS  # noqa: E402
from forecasting.model import Model  # noqa: E402
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


def _city_history(n_series: int, days: float, step_s: float = 300.0) -> Series:
    """``n_series`` sensors of a simulated city (as many sites as it takes), ``days`` of 5-minute readings."""
    from simulators.city import CityConfig, simulate
    from simulators.sites import city_sites, sensors_of

    n_sites = 4 * n_series // 10 + 48
    while len(sensors_of(city_sites(n_sites))) < n_series:
        n_sites += n_series // 20 + 1
    start = datetime(2026, 10, 5, tzinfo=UTC).timestamp()  # a Monday in the wet season
    sim = simulate(CityConfig(tuple(city_sites(n_sites)), start, days * 86_400, step_s, seed=0))
    return Series(start, step_s, sim.observed[:n_series].astype(np.float64))


def bench_speed(args: argparse.Namespace) -> None:
    from forecasting import metrics
    from forecasting.baselines import SeasonalNaive
    from forecasting.direct import ProfileAR

    began = time.perf_counter()
    data = _city_history(args.series, 15)
    day = 288
    history = Series(data.start, data.step_s, data.values[:, :-day])
    future = data.values[:, -day:]
    print(f"speed: {history.n_series:,} series x {history.n_time:,} points (simulated in "
          f"{time.perf_counter() - began:.1f} s); ProfileAR fit + {day}-step forecast with 80/95 % bands")  # fmt: skip
    model = ProfileAR()
    for run in range(args.repeat):
        began = time.perf_counter()
        model = ProfileAR()
        forecast = model.fit(history).predict(day, (0.8, 0.95))
        seconds = time.perf_counter() - began
        began = time.perf_counter()  # the reference, right after: the simplest model with bands, same data
        naive = SeasonalNaive(86_400.0).fit(history).predict(day, (0.8, 0.95))
        reference = time.perf_counter() - began
        print(f"  run {run + 1}: {seconds:.2f} s = {history.n_series / seconds:,.0f} series/s "
              f"({seconds / history.n_series * 1e6:.0f} us per series); lag span, ridge: {model.chosen}; "
              f"seasonal naive fit + forecast {reference:.2f} s (ProfileAR {seconds / reference:.1f}x)")  # fmt: skip
    began = time.perf_counter()
    for bucket in range(1, 13):  # the service's cycle between refits: the next bucket in, 3 hours out
        newer = Series(data.start, data.step_s, data.values[:, : history.n_time + bucket])
        model.update(newer).predict(36, (0.8, 0.95))
    per_cycle = (time.perf_counter() - began) / 12
    print(f"  update + 3-hour predict, {history.n_series:,} series: {per_cycle * 1000:.0f} ms per 5-minute cycle "
          f"({per_cycle / seconds:.3f} of a fit + 24 h forecast)")  # fmt: skip
    for k, label in ((3, "15 min"), (12, "1 h"), (36, "3 h"), (288, "24 h")):
        ours = float(metrics.mae(future[:, k - 1], forecast.mean[:, k - 1]))
        theirs = float(metrics.mae(future[:, k - 1], naive.mean[:, k - 1]))
        print(f"  MAE at {label:>6} on the held-out day: ProfileAR / seasonal naive (day) = {ours / theirs:.2f}")
    for level in (0.8, 0.95):
        cover = float(metrics.coverage(future, forecast.lower[level], forecast.upper[level]))
        print(f"  {level:.0%} band covers {cover:.1%} of the held-out day")


def _compare_models(step_s: float, seasons: dict[str, int], everyone: bool) -> list[tuple[str, Callable[[], Model]]]:
    from forecasting.baselines import SeasonalNaive
    from forecasting.calendar import LocalCalendar
    from forecasting.compare import ProphetModel, StatsForecastModel, StatsmodelsETS
    from forecasting.daytype import DayTypeProfile
    from forecasting.direct import PROFILE_SMOOTH_S, ProfileAR
    from forecasting.profile import TimeOfWeekAverage

    day, week = seasons["day"], seasons["week"]
    offset = seasons["utc_offset_s"]
    models: list[tuple[str, Callable[[], Model]]] = [
        ("seasonal_naive_day", lambda: SeasonalNaive(86_400.0)),
        ("seasonal_naive_week", lambda: SeasonalNaive(7 * 86_400.0)),
        ("profile_ar", lambda: ProfileAR(TimeOfWeekAverage(utc_offset_s=offset, smooth_s=PROFILE_SMOOTH_S))),
    ]
    if seasons["vietnam"]:  # the day-type profile reads Vietnam's calendar: not for data from elsewhere
        models.append(("profile_ar_daytype", lambda: ProfileAR(DayTypeProfile(LocalCalendar(), working_days_alike=True,
                                                                              smooth_s=PROFILE_SMOOTH_S),
                                                               name="profile_ar_daytype")))  # fmt: skip
    if everyone:
        if day <= 24:  # statsforecast refuses ETS seasons over 24
            models.append(("statsforecast_autoets", lambda: StatsForecastModel("AutoETS", day)))
        else:
            models.append(("statsforecast_autoets (no season)", lambda: StatsForecastModel("AutoETS", 1)))
        models += [
            ("statsforecast_mstl", lambda: StatsForecastModel("MSTL", [day, week])),
            ("statsmodels_ets", lambda: StatsmodelsETS(day)),
            ("prophet", lambda: ProphetModel(utc_offset_s=offset)),
        ]
    return models


def _compare_on(title: str, series: Series, subset: list[int], horizon: int, origins: int, holdout: int,
                steps: list[int], seasons: dict[str, int]) -> None:  # fmt: skip
    from forecasting.backtest import rolling_origin

    part = Series(series.start, series.step_s, series.values[subset])
    first = series.n_time - holdout
    engine = rolling_origin(series, [m for _, m in _compare_models(series.step_s, seasons, False)], horizon,
                            origins, first)  # fmt: skip
    engine_cost = {s.model: s.fit_seconds / (len(engine.origins) * series.n_series) for s in engine.scores}
    print(f"\n{title}: {series.n_series} series x {series.n_time} points, step {series.step_s / 60:g} min, "
          f"{len(engine.origins)} origins in the last {holdout} steps, horizon {horizon}")  # fmt: skip
    print(f"engine on all {series.n_series} series:")
    print(engine.table(steps))
    everyone = _compare_models(series.step_s, seasons, True)
    result = rolling_origin(part, [m for _, m in everyone], horizon, origins, first)
    print(f"everyone on the same {len(subset)} series (cost per series and origin; ratio = its cost / ProfileAR's "
          f"per-series cost in the {series.n_series}-series batch):")  # fmt: skip
    print(result.table(steps))
    ours = engine_cost["profile_ar"]
    for (label, _), score in zip(everyone, result.scores, strict=True):
        per_series = score.fit_seconds / (len(result.origins) * len(subset))
        print(f"  {label:<34} {per_series * 1e3:10.2f} ms per series  {per_series / ours:>12,.0f}x ProfileAR's "
              f"{ours * 1e6:.0f} us")  # fmt: skip
    engine_names = [s.model for s in result.scores if s.model.startswith("profile_ar")]
    others = [s.model for s in result.scores if s.model.startswith(("prophet", "statsforecast"))]
    print("paired MAE differences, engine minus library, same forecasts (95 % bootstrap over series):")
    for mine in engine_names:
        for theirs in others:
            cells = []
            for k in steps:
                d = result.paired(mine, theirs, k)
                cells.append(f"{_duration_label(k * series.step_s)} {d.difference:+.2f} [{d.low:+.2f}, {d.high:+.2f}]")
            print(f"  {mine} - {theirs}: " + "; ".join(cells))


def _duration_label(seconds: float) -> str:
    return f"{seconds / 3600:g}h" if seconds >= 3600 else f"{seconds / 60:g}min"


def bench_compare(args: argparse.Namespace) -> None:
    import logging

    logging.getLogger("forecasting.compare").setLevel(logging.ERROR)
    rng = np.random.default_rng(0)
    if args.data == "oregon":
        from tests.forecasting.real_data import oregon_counts

        series = oregon_counts()
        subset = sorted(rng.choice(series.n_series, min(args.subset, series.n_series), replace=False).tolist())
        seasons = {"day": 96, "week": 672, "utc_offset_s": 0, "vietnam": 0}
        _compare_on("Oregon detector counts (real)", series, subset, 12, args.origins, 7 * 96, [1, 4, 12], seasons)
        return
    data = _city_history(args.series, 28)
    counts = [i for i in range(data.n_series) if np.nanmax(data.values[i]) > 50]  # traffic counts
    data = Series(data.start, data.step_s, data.values[counts[: args.series]])
    subset = sorted(rng.choice(data.n_series, min(args.subset, data.n_series), replace=False).tolist())
    seasons = {"day": 288, "week": 2016, "utc_offset_s": 7 * 3600, "vietnam": 1}
    _compare_on("simulated traffic counts, 5 min", data, subset, 36, args.origins, 3 * 288, [3, 12, 36], seasons)
    hourly = Series(data.start, 3600.0, np.nanmean(data.values.reshape(data.n_series, -1, 12), axis=2))
    seasons = {"day": 24, "week": 168, "utc_offset_s": 7 * 3600, "vietnam": 1}
    _compare_on("the same, hourly means", hourly, subset, 24, args.origins, 3 * 24, [1, 3, 24], seasons)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    tide_args = sub.add_parser("tide")
    tide_args.add_argument("--gauges", type=int, default=1000)
    tide_args.add_argument("--days", type=float, default=365)
    tide_args.add_argument("--utide-gauges", type=int, default=10)
    speed_args = sub.add_parser("speed")
    speed_args.add_argument("--series", type=int, default=10_000)
    speed_args.add_argument("--repeat", type=int, default=3)
    compare_args = sub.add_parser("compare")
    compare_args.add_argument("--data", choices=("city", "oregon"), default="city")
    compare_args.add_argument("--series", type=int, default=500, help="city: engine series (traffic counts)")
    compare_args.add_argument("--subset", type=int, default=12, help="series every model forecasts")
    compare_args.add_argument("--origins", type=int, default=4)
    args = parser.parse_args()
    {"tide": bench_tide, "speed": bench_speed, "compare": bench_compare}[args.what](args)


if __name__ == "__main__":
    main()
