"""The engine against the strongest simple baselines on real data, fit once and forecast many.

    python bench/bench_real.py [--data ../shared/data] [--sets oregon,mayport,donghoi2010,donghoi2012]

Every model is fitted once on the history before an evaluation window, then moved from origin to
origin through the window with ``update`` (no refit) and asked for the next hours each time - what
the forecast service does between refits (``forecasting.backtest.fit_once``). Scored at 15 min,
30 min, 1 h and 3 h on 15-minute counts and at 1, 3, 6, 12 and 24 h on hourly water levels: MAE of
every model, the engine's best against the best baseline at each horizon (MAE difference with a
95 % moving-block bootstrap interval over origins: a day of origins per block), and how often the
80 % and 95 % bands held. The data sets are read from ``--data`` (the project's shared folder;
the Dong Hoi files' licence is unstated, so they are never copied into the repository).

Baselines: persistence, seasonal naive (a day and a week for traffic; the lunar day, 25 h, for
tides), the weekday time-of-day average, per-sensor ETS (statsmodels, additive season of a day or
a lunar day), VAR(1) (traffic: all detectors; Dong Hoi: the level and the three rain gauges), and
harmonics + ridge on 24 residual lags (+ rain accumulated over 24 and 72 h at Dong Hoi).
No setting was tuned on the evaluation windows: the engine's candidates for lag depth and ridge
are its defaults, chosen by cross-validation inside ``fit`` on the training history alone.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from real_data import dong_hoi, mayport_2017, oregon_counts  # noqa: E402

from forecasting.backtest import Backtest, fit_once  # noqa: E402
from forecasting.baselines import HarmonicRidge, SeasonalNaive, VectorAR1  # noqa: E402
from forecasting.calendar import LocalCalendar  # noqa: E402
from forecasting.compare import StatsmodelsETS  # noqa: E402
from forecasting.daytype import DayTypeProfile  # noqa: E402
from forecasting.direct import PROFILE_SMOOTH_S, ProfileAR  # noqa: E402
from forecasting.graph import SensorGraph  # noqa: E402
from forecasting.model import DEFAULT_LEVELS, Model  # noqa: E402
from forecasting.profile import TimeOfWeekAverage  # noqa: E402
from forecasting.rain import every_gauge  # noqa: E402
from forecasting.recalibrate import Recalibrated  # noqa: E402
from forecasting.series import Forecast, Series  # noqa: E402
from forecasting.water import WaterLevelModel  # noqa: E402

HOUR = 3600.0
LEVELS = (0.8, 0.95)


@dataclass(frozen=True)
class Case:
    title: str
    series: Series
    fit_end: int  # columns before it train every model
    every: int  # steps between origins
    steps: tuple[int, ...]  # horizons scored (steps)
    engine: dict[str, Callable[[], Model]]
    baselines: dict[str, Callable[[], Model]]


class WithInputs:
    """Forecast a batch's first rows jointly with extra rows (VAR(1) over level and rain), scoring the first."""

    def __init__(self, model: Model, extra: Series, keep: int = 1) -> None:
        self.model, self.extra, self.keep, self.name = model, extra, keep, model.name

    def _joined(self, history: Series) -> Series:
        offset = int(round((history.start - self.extra.start) / history.step_s))
        extra = self.extra.values[:, offset : offset + history.n_time]
        return Series(history.start, history.step_s, np.vstack([history.values, extra]))

    def fit(self, history: Series) -> WithInputs:
        self.model.fit(self._joined(history))
        return self

    def update(self, history: Series) -> WithInputs:
        self.model.update(self._joined(history))
        return self

    def predict(self, horizon: int, levels: Sequence[float] = DEFAULT_LEVELS) -> Forecast:  # type: ignore[override]
        f = self.model.predict(horizon, levels)
        k = slice(0, self.keep)
        fallback = None if f.fallback is None else f.fallback[k]
        return Forecast(f.model, f.start, f.step_s, f.mean[k], {lv: b[k] for lv, b in f.lower.items()},
                        {lv: b[k] for lv, b in f.upper.items()}, fallback)  # fmt: skip


def oregon(data: Path) -> Case:
    counts = oregon_counts(data)
    week = 7 * 96
    us = LocalCalendar("UTC", "US")  # the file's times are local and naive: read as UTC
    h = 3 * HOUR
    everyone = SensorGraph.from_adjacency(np.ones((counts.n_series, counts.n_series)))  # one intersection
    engine: dict[str, Callable[[], Model]] = {
        "profile_ar": lambda: ProfileAR(TimeOfWeekAverage(utc_offset_s=0.0, smooth_s=PROFILE_SMOOTH_S), horizon_s=h),
        "profile_ar_neighbours": lambda: ProfileAR(TimeOfWeekAverage(utc_offset_s=0.0, smooth_s=PROFILE_SMOOTH_S),
                                                   everyone, horizon_s=h, name="profile_ar_neighbours"),
        "profile_ar_daytype": lambda: ProfileAR(DayTypeProfile(us, working_days_alike=True, smooth_s=PROFILE_SMOOTH_S),
                                                horizon_s=h, name="profile_ar_daytype"),
        "day_type_profile": lambda: DayTypeProfile(us),
    }  # fmt: skip
    baselines: dict[str, Callable[[], Model]] = {
        "persistence": lambda: SeasonalNaive(0.0, horizon_s=h),
        "seasonal_naive_day": lambda: SeasonalNaive(86_400.0, horizon_s=h),
        "seasonal_naive_week": lambda: SeasonalNaive(7 * 86_400.0, horizon_s=h),
        "time_of_week": lambda: TimeOfWeekAverage(utc_offset_s=0.0),
        "ets": lambda: StatsmodelsETS(season_length=96),
        "var1": lambda: VectorAR1(horizon_s=h),
        "harmonic_ridge": lambda: HarmonicRidge(horizon_s=h),
    }
    return Case("Oregon detector counts, 15 min", counts, counts.n_time - week, 4, (1, 2, 4, 12), engine, baselines)


def _water_baselines(rain: Series | None = None) -> dict[str, Callable[[], Model]]:
    day = 24 * HOUR
    baselines: dict[str, Callable[[], Model]] = {
        "persistence": lambda: SeasonalNaive(0.0),
        "seasonal_naive_lunar_day": lambda: SeasonalNaive(25 * HOUR, name="seasonal_naive_25h"),
        "time_of_week": lambda: TimeOfWeekAverage(),
        "ets": lambda: StatsmodelsETS(season_length=25),
        "var1": lambda: VectorAR1(horizon_s=day) if rain is None else WithInputs(VectorAR1(horizon_s=day), rain),
        "harmonic_ridge": lambda: HarmonicRidge(tidal=True) if rain is None else HarmonicRidge(
            tidal=True, rain=rain, gauges=np.arange(rain.n_series)[None, :]),
    }  # fmt: skip
    return baselines


def _column(series: Series, when: datetime) -> int:
    return int(round((when.timestamp() - series.start) / series.step_s))


def mayport(data: Path) -> Case:
    level = mayport_2017(data)
    engine: dict[str, Callable[[], Model]] = {
        "water_level": lambda: WaterLevelModel(),
        "water_level_recalibrated": lambda: Recalibrated(WaterLevelModel()),
    }
    fit_end = _column(level, datetime(2017, 9, 1, tzinfo=UTC))
    return Case("Mayport 8720218 water level, hourly (2017)", level, fit_end, 3, (1, 3, 6, 12, 24), engine,
                _water_baselines())  # fmt: skip


def donghoi(data: Path, year: int) -> Case:
    sets = dong_hoi(data, year)
    link = every_gauge(1, sets.rain.n_series)
    engine: dict[str, Callable[[], Model]] = {
        "water_level": lambda: WaterLevelModel(sets.rain, link),
        "water_level_without_rain": lambda: WaterLevelModel(name="water_level_without_rain"),
        "water_level_recalibrated": lambda: Recalibrated(WaterLevelModel(sets.rain, link)),
        "water_level_without_rain_recalibrated": lambda: Recalibrated(WaterLevelModel(name="water_level_without_rain")),
    }
    # 2010 has rain only from October: train through October, score November-December (the floods);
    # 2012: train January-August, score September-December.
    cut = datetime(2010, 11, 1, tzinfo=UTC) if year == 2010 else datetime(2012, 9, 1, tzinfo=UTC)
    return Case(f"Dong Hoi water level with 3 rain gauges, hourly ({year})", sets.water,
                _column(sets.water, cut), 3, (1, 3, 6, 12, 24), engine, _water_baselines(sets.rain))  # fmt: skip


def _label(steps: int, step_s: float) -> str:
    seconds = steps * step_s
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds / 60:g} min"


def run(case: Case) -> Backtest:
    series = case.series
    horizon = max(case.steps)
    origins = list(range(case.fit_end, series.n_time - horizon + 1, case.every))
    names = [*case.engine, *case.baselines]
    factories = [*case.engine.values(), *case.baselines.values()]
    print(
        f"\n## {case.title}\n{series.n_series} series x {series.n_time} steps; fitted once on the first "
        f"{case.fit_end} steps, forecast from {len(origins)} origins every {_label(case.every, series.step_s)}"
    )
    began = time.perf_counter()
    result = fit_once(series, factories, horizon, origins, case.fit_end, LEVELS)
    by_name = dict(zip(names, result.scores, strict=True))
    heads = [f"MAE {_label(k, series.step_s)}" for k in case.steps] + ["cov 80", "cov 95", "fit s", "forecasts s"]
    print("| model | " + " | ".join(heads) + " |\n|" + "---|" * (len(heads) + 1))
    for name, score in by_name.items():
        mark = "**" if name in case.engine else ""
        cells = [f"{score.mae[k - 1]:.3f}" for k in case.steps]
        cells += [f"{np.nanmean(score.coverage[lv]):.1%}" if lv in score.coverage else "-" for lv in LEVELS]
        cells += [f"{score.fit_seconds:.1f}", f"{score.forecast_seconds:.1f}"]
        print(f"| {mark}{name}{mark} | " + " | ".join(cells) + " |")
    block = max(1, round(86_400 / (case.every * series.step_s)))
    print("\nengine's best minus best baseline (MAE; 95 % moving-block bootstrap over origins, blocks of a day):")
    for k in case.steps:
        best_engine = min(case.engine, key=lambda n: by_name[n].mae[k - 1])
        best_base = min(case.baselines, key=lambda n: by_name[n].mae[k - 1])
        d = result.paired_blocks(by_name[best_engine].model, by_name[best_base].model, k, block)
        verdict = "beats" if d.high < 0 else ("loses to" if d.low > 0 else "ties")
        print(
            f"  {_label(k, series.step_s):>7}: {best_engine} {verdict} {best_base}: {d.difference:+.4f} "
            f"[{d.low:+.4f}, {d.high:+.4f}] ({d.relative:+.1%})"
        )
    print(f"({time.perf_counter() - began:.0f} s)")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--sets", default="oregon,mayport,donghoi2010,donghoi2012")
    args = parser.parse_args()
    logging.getLogger("forecasting.compare").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")  # statsmodels' convergence chatter, per series and origin
    cases = {"oregon": oregon, "mayport": mayport,
             "donghoi2010": lambda d: donghoi(d, 2010), "donghoi2012": lambda d: donghoi(d, 2012)}  # fmt: skip
    print(f"bench_real on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    for name in args.sets.split(","):
        run(cases[name](args.data))


if __name__ == "__main__":
    main()
