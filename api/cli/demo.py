"""``urbanpulse demo``, ``simulate`` and ``replay``: the virtual city through the whole system.

The simulation machinery (and the private servers it starts) loads on use, so other commands
start fast and production commands never import the dev stack.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from runtime.logs import configure_logging
from runtime.shutdown import handle_signals

if TYPE_CHECKING:
    from api.simulation.live import SimulateSummary

demo_app = typer.Typer()

ScenarioOption = Annotated[
    str, typer.Option(help="normal-day, monsoon-storm, tet-holiday or sensor-faults (see docs/simulators.md).")
]
SitesOption = Annotated[
    int, typer.Option(min=1, max=20_000, help="Sites (devices); 48 are real places, more are clones.")
]
SpeedOption = Annotated[
    float, typer.Option(min=0, help="Simulated seconds per second (60 = an hour a minute; 0 = flat out).")
]
DataDirOption = Annotated[Path, typer.Option(help="Where the private database and broker live.")]
TruthOption = Annotated[Path | None, typer.Option(help="Write the ground truth (.npz) here.")]
SummaryOption = Annotated[Path | None, typer.Option(help="Write a JSON summary here at the end.")]


def _simulate_exit(summary: SimulateSummary) -> None:
    """Exit 1 when something published was neither stored nor a recognised duplicate."""
    if summary.readings_stored + summary.duplicates_ignored < summary.readings_published:
        raise typer.Exit(1)


@demo_app.command()
def demo(
    scenario: ScenarioOption = "monsoon-storm",
    sites: SitesOption = 48,
    speed: SpeedOption = 60.0,
    duration: Annotated[float | None, typer.Option(min=1, help="Wall seconds to run (default: the whole day).")] = None,
    data_dir: DataDirOption = Path(".urbanpulse"),
    truth: TruthOption = None,
    summary_json: SummaryOption = None,
    history_days: Annotated[
        float, typer.Option(min=0, max=28, help="Days of history before the day, written straight to the database.")
    ] = 21.0,
    api_port: Annotated[int, typer.Option(min=0, max=65535, help="API and dashboard port (0: any free).")] = 8080,
) -> None:
    """Run the whole system locally: private PostgreSQL and Mosquitto, ingestor, forecasts, alerts, the HTTP API
    and dashboard, the virtual city (the URL and a demo operator's password are printed).

    Seeds weeks of history, then replays the scenario's day ending now at SPEED (fresh readings)
    while the forecast service issues a forecast for every completed 5-minute bucket. Ctrl-C or
    SIGTERM stops it: what was published is stored, then the private servers stop.
    """
    from api.simulation.live import SimulateOptions, run_simulation

    configure_logging("WARNING")
    options = SimulateOptions(scenario, sites, speed, ending_now=True, duration_s=duration, data_dir=data_dir,
                              truth_path=truth, summary_json=summary_json, history_days=history_days,
                              forecast=True, api_port=api_port)  # fmt: skip
    with handle_signals() as shutdown:
        _simulate_exit(run_simulation(options, shutdown=shutdown))


@demo_app.command()
def simulate(
    scenario: ScenarioOption = "normal-day",
    sites: SitesOption = 48,
    speed: SpeedOption = 60.0,
    hours: Annotated[float | None, typer.Option(min=0.1, help="Simulated hours (default: the scenario's).")] = None,
    start: Annotated[
        datetime | None, typer.Option(help="Simulated start, e.g. 2026-10-01T06:00+07:00 (default: the scenario's).")
    ] = None,
    step: Annotated[float, typer.Option(min=1, help="Seconds between a sensor's readings.")] = 60.0,
    seed: Annotated[int, typer.Option(help="Same seed, same city.")] = 0,
    fault: Annotated[
        list[str] | None,
        typer.Option(help="KIND=COUNT faults for sensor-faults, e.g. spike=5 or offline=0 (repeatable)."),
    ] = None,
    duration: Annotated[float | None, typer.Option(min=1, help="Stop after this many wall seconds.")] = None,
    no_publish: Annotated[bool, typer.Option("--no-publish", help="Only simulate and write --truth.")] = False,
    data_dir: DataDirOption = Path(".urbanpulse"),
    truth: TruthOption = None,
    summary_json: SummaryOption = None,
) -> None:
    """Publish a scenario of the virtual city through real device links into a private stack."""
    from api.simulation.live import SimulateOptions, run_simulation, write_truth_only
    from simulators.faults import fault_counts
    from simulators.scenarios import SCENARIOS

    configure_logging("WARNING")
    if scenario not in SCENARIOS:
        typer.echo(f"urbanpulse simulate: unknown scenario {scenario!r}; choose {', '.join(SCENARIOS)}", err=True)
        raise typer.Exit(2)
    if start is not None and start.tzinfo is None:
        typer.echo("urbanpulse simulate: --start needs a UTC offset, e.g. 2026-10-01T06:00+07:00", err=True)
        raise typer.Exit(2)
    try:
        faults = fault_counts(fault or [])
    except ValueError as error:
        typer.echo(f"urbanpulse simulate: {error}", err=True)
        raise typer.Exit(2) from error
    options = SimulateOptions(scenario, sites, speed, hours, start, False, step, seed, duration, data_dir, truth,
                              summary_json, faults)  # fmt: skip
    if no_publish:
        if truth is None:
            typer.echo("urbanpulse simulate: --no-publish needs --truth FILE", err=True)
            raise typer.Exit(2)
        write_truth_only(options)
        return
    with handle_signals() as shutdown:
        _simulate_exit(run_simulation(options, shutdown=shutdown))


@demo_app.command()
def replay(
    source: Annotated[Path, typer.Argument(help="CSV or Parquet with columns time, sensor (device/kind), value.")],
    speed: SpeedOption = 0.0,
    data_dir: DataDirOption = Path(".urbanpulse"),
    summary_json: SummaryOption = None,
) -> None:
    """Stream a recorded series through MQTT as its devices, at its own pace times SPEED (0 = flat out)."""
    from api.simulation.live import run_replay
    from simulators.replay import ReplayError

    configure_logging("WARNING")
    try:
        with handle_signals() as shutdown:
            _simulate_exit(run_replay(source, speed, data_dir, summary_json, shutdown=shutdown))
    except ReplayError as error:
        typer.echo(f"urbanpulse replay: {error}", err=True)
        raise typer.Exit(2) from error
