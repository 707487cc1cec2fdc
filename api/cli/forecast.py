"""``urbanpulse forecast ...``: backtests of the forecasting models from the command line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli.options import ConfigOption, server_settings

if TYPE_CHECKING:  # the models load on use, so other commands start fast
    from forecasting.model import Model
    from forecasting.series import Series

forecast_app = typer.Typer(
    help="Forecasts: the service that writes them, backtests, flood-warning skill.", no_args_is_help=True
)


def comparison_models(step_s: float, utc_offset_s: float) -> list[Callable[[], Model]]:
    """The comparison set: seasonal naive (day, week), time-of-week, day-type profile, ProfileAR."""
    from forecasting.baselines import SeasonalNaive
    from forecasting.calendar import LocalCalendar
    from forecasting.daytype import DayTypeProfile
    from forecasting.direct import PROFILE_SMOOTH_S, ProfileAR
    from forecasting.profile import TimeOfWeekAverage

    calendar = LocalCalendar(f"Etc/GMT{-round(utc_offset_s / 3600):+d}" if utc_offset_s % 3600 == 0 else "UTC")
    return [
        lambda: SeasonalNaive(86_400.0),
        lambda: SeasonalNaive(7 * 86_400.0),
        lambda: TimeOfWeekAverage(utc_offset_s=utc_offset_s),
        lambda: DayTypeProfile(calendar),
        lambda: ProfileAR(TimeOfWeekAverage(utc_offset_s=utc_offset_s, smooth_s=PROFILE_SMOOTH_S)),
    ]


def series_from_recording(path: Path) -> tuple[Series, list[str]]:
    """A recording (``simulators.replay`` format) as a batch on its own regular time axis."""
    import numpy as np

    from forecasting.series import Series
    from simulators.replay import load

    recording = load(path)
    if len(recording.times) < 3:
        raise ValueError(f"{path}: too few time steps to backtest")
    step = float(np.min(np.diff(recording.times)))
    columns = np.round((recording.times - recording.times[0]) / step).astype(np.int64)
    values = np.full((len(recording.sensors), int(columns[-1]) + 1), np.nan)
    values[:, columns] = recording.values
    return Series(float(recording.times[0]), step, values), [s.full_name for s in recording.sensors]


@forecast_app.command("backtest")
def backtest(
    source: Annotated[Path, typer.Argument(help="CSV or Parquet recording: time, sensor (device/kind), value.")],
    horizon_h: Annotated[float, typer.Option("--horizon", min=0.01, help="Forecast horizon in hours.")] = 3.0,
    origins: Annotated[int, typer.Option(min=1, max=200, help="Forecast origins, spread over the last part.")] = 8,
    holdout_days: Annotated[float, typer.Option(min=0.1, help="Origins lie in this many last days.")] = 7.0,
    utc_offset_h: Annotated[float, typer.Option(help="Local time of the data (profiles follow it).")] = 7.0,
) -> None:
    """Compare every model on the same rolling-origin windows; prints MAE per horizon and coverage."""
    from forecasting.backtest import rolling_origin
    from simulators.replay import ReplayError

    try:
        series, _ = series_from_recording(source)
    except (ReplayError, ValueError) as error:
        typer.echo(f"urbanpulse forecast backtest: {error}", err=True)
        raise typer.Exit(2) from error
    horizon = max(1, round(horizon_h * 3600 / series.step_s))
    first = max(series.n_time - round(holdout_days * 86_400 / series.step_s), 1)
    models = comparison_models(series.step_s, utc_offset_h * 3600)
    try:
        result = rolling_origin(series, models, horizon, origins, first)
    except ValueError as error:
        typer.echo(f"urbanpulse forecast backtest: {error}", err=True)
        raise typer.Exit(2) from error
    steps = sorted({1, max(1, horizon // 3), horizon})
    typer.echo(f"{series.n_series} series, step {series.step_s / 60:g} min, {len(result.origins)} origins, "
               f"horizon {horizon} steps")  # fmt: skip
    typer.echo(result.table(steps))


@forecast_app.command("run")
def run(
    config: ConfigOption = None,
    once: Annotated[bool, typer.Option("--once", help="Issue one forecast and exit.")] = False,
) -> None:
    """Forecast every water-level and traffic sensor from the database into the forecasts table.

    Runs until interrupted, issuing whenever a new 5-minute bucket is complete (settings:
    [forecast] in the TOML file, URBANPULSE_FORECAST__* variables).
    """
    from datetime import UTC, datetime

    import psycopg

    from forecasting.__main__ import serve
    from forecasting.service import run_cycle

    settings = server_settings(config)
    if not once:
        raise typer.Exit(serve(settings))
    try:
        settings.forecast.shard_pair()
    except ValueError as error:
        typer.echo(f"urbanpulse forecast run: {error}", err=True)
        raise typer.Exit(2) from error
    try:
        with psycopg.connect(settings.database_url) as conn:
            result = run_cycle(conn, datetime.now(UTC), settings.forecast)
    except psycopg.Error as error:
        typer.echo(f"urbanpulse forecast run: {error}", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"issued {result.issued_at.isoformat()}: {result.sensors} sensors, {result.fallbacks} fallbacks, "
               f"{result.rows_written} rows in {result.seconds:.2f} s")  # fmt: skip


@forecast_app.command("warnings")
def warnings(
    scenario: Annotated[
        str, typer.Option(help="A scenario of the virtual city (see docs/simulators.md).")
    ] = "monsoon-storm",
    sites: Annotated[int, typer.Option(min=8, max=2000, help="Sites of the virtual city.")] = 48,
    history_days: Annotated[float, typer.Option(min=3, max=60, help="Simulated days the model learns from.")] = 21.0,
    seed: Annotated[int, typer.Option(help="Same seed, same city (and storm).")] = 0,
    seeds: Annotated[
        str | None, typer.Option(help="Several seeds, e.g. 0-9 or 0,3,7: each reported, then a summary.")
    ] = None,
    horizon_h: Annotated[float, typer.Option("--horizon", min=0.25, max=12, help="Warning horizon in hours.")] = 3.0,
    drains: Annotated[
        str, typer.Option(help="The city's street drains: orifice (default) or gated-weir (another physics).")
    ] = "orifice",
    quick: Annotated[
        bool, typer.Option("--quick", help="Street-flood tiers only: skip today's water model and the rain scores.")
    ] = False,
) -> None:
    """Score flood warnings on a simulated scenario: street-flood watches and warnings (rain nowcast +
    drainage model) with their bounds, today's water-level model for streets and canals, and the rain
    nowcast at the gauges, issued every 5 minutes and scored against the simulator's ground truth."""
    from api.simulation.warning_skill import score_scenario, summary
    from simulators.scenarios import SCENARIOS
    from simulators.water import GATED_CITY, Drainage, DrainLaw

    if scenario not in SCENARIOS:
        typer.echo(f"urbanpulse forecast warnings: unknown scenario {scenario!r}; choose {', '.join(SCENARIOS)}",
                   err=True)  # fmt: skip
        raise typer.Exit(2)
    try:
        chosen = [seed] if seeds is None else _seed_list(seeds)
        law = DrainLaw(drains)
    except ValueError as error:
        typer.echo(f"urbanpulse forecast warnings: {error}", err=True)
        raise typer.Exit(2) from error
    drainage: Drainage | None = GATED_CITY if law == DrainLaw.GATED_WEIR else None
    reports = []
    for one in chosen:
        report = score_scenario(scenario, sites, history_days, one, horizon_s=horizon_h * 3600,
                                progress=lambda line: typer.echo(line, err=True), water_model=not quick,
                                rain_skill=not quick, drainage=drainage)  # fmt: skip
        typer.echo(f"{scenario}, seed {one}:\n{report.table()}\n")
        reports.append(report)
    if len(reports) > 1:
        typer.echo(summary(reports))


def _seed_list(text: str) -> list[int]:
    """'0-9' or '0,3,7' (or a mix) as a list of seeds."""
    chosen: list[int] = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            raise ValueError(f"seeds {text!r}: give e.g. 0-9 or 0,3,7")
        chosen += list(range(int(first), int(last or first) + 1))
    return chosen
