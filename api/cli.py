"""The ``urbanpulse`` command line: one entry point for every service and admin task."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import psycopg
import typer

from api.alerts_cli import alerts_app
from api.forecast_cli import forecast_app
from api.options import ConfigOption, server_settings
from ingest.logs import configure_logging

if TYPE_CHECKING:  # the simulator loads on use, so other commands start fast
    from api.simulate import SimulateSummary

app = typer.Typer(help="UrbanPulse: proactive flood and traffic operations for a megacity.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
device_app = typer.Typer(help="Device registry and broker credentials.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(device_app, name="device")
app.add_typer(forecast_app, name="forecast")
app.add_typer(alerts_app, name="alerts")

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


@app.command()
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
) -> None:
    """Run the whole system locally: private PostgreSQL and Mosquitto, ingestor, forecasts, the virtual city.

    Seeds weeks of history, then replays the scenario's day ending now at SPEED (fresh readings)
    while the forecast service issues a forecast for every completed 5-minute bucket.
    """
    from api.simulate import SimulateOptions, run_simulation

    configure_logging("WARNING")
    options = SimulateOptions(scenario, sites, speed, ending_now=True, duration_s=duration, data_dir=data_dir,
                              truth_path=truth, summary_json=summary_json, history_days=history_days,
                              forecast=True)  # fmt: skip
    _simulate_exit(run_simulation(options))


@app.command()
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
    from api.simulate import SimulateOptions, run_simulation, write_truth_only
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
    _simulate_exit(run_simulation(options))


@app.command()
def replay(
    source: Annotated[Path, typer.Argument(help="CSV or Parquet with columns time, sensor (device/kind), value.")],
    speed: SpeedOption = 0.0,
    data_dir: DataDirOption = Path(".urbanpulse"),
    summary_json: SummaryOption = None,
) -> None:
    """Stream a recorded series through MQTT as its devices, at its own pace times SPEED (0 = flat out)."""
    from api.simulate import run_replay
    from simulators.replay import ReplayError

    configure_logging("WARNING")
    try:
        _simulate_exit(run_replay(source, speed, data_dir, summary_json))
    except ReplayError as error:
        typer.echo(f"urbanpulse replay: {error}", err=True)
        raise typer.Exit(2) from error


@app.command()
def ingest(config: ConfigOption = None) -> None:
    """Run one ingestor (as many copies as you like: they share the MQTT subscription)."""
    from prometheus_client import start_http_server

    from ingest.errors import BrokerAuthError
    from ingest.metrics import IngestMetrics
    from ingest.service import Ingestor

    settings = server_settings(config)
    metrics = IngestMetrics()
    if settings.ingest.metrics_port:
        start_http_server(settings.ingest.metrics_port, addr=settings.ingest.metrics_host, registry=metrics.registry)
    stop = threading.Event()
    try:
        Ingestor(settings, metrics).run(stop)
    except KeyboardInterrupt:
        stop.set()
    except BrokerAuthError as error:
        typer.echo(f"urbanpulse ingest: {error}", err=True)
        raise typer.Exit(2) from error


@app.command()
def edge(
    config: Annotated[Path, typer.Option("--config", "-c", help="Edge agent TOML.")] = Path(
        "/etc/urbanpulse/edge.toml"
    ),
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING, ERROR.")] = "INFO",
) -> None:
    """Run the edge agent (the same as `python -m edge`): sample sensors, store, forward."""
    from edge.__main__ import main as edge_main

    raise typer.Exit(edge_main(["--config", str(config), "--log-level", log_level]))


@db_app.command("migrate")
def db_migrate(config: ConfigOption = None) -> None:
    """Apply pending schema migrations (safe to run from several processes at once)."""
    from ingest.storage.migrate import migrate

    settings = server_settings(config)
    applied = migrate(settings.database_url)
    typer.echo(f"applied {len(applied)} migration(s)" + "".join(f"\n  {m.version:04d} {m.name}" for m in applied))


@device_app.command("add")
def device_add(
    device_id: Annotated[str, typer.Argument(help="Lowercase letters, digits and '-', e.g. hcm-q1-0007.")],
    name: Annotated[str | None, typer.Option(help="Human-readable name.")] = None,
    ward: Annotated[str | None, typer.Option()] = None,
    district: Annotated[str | None, typer.Option()] = None,
    lat: Annotated[float | None, typer.Option(min=-90, max=90)] = None,
    lon: Annotated[float | None, typer.Option(min=-180, max=180)] = None,
    broker_dir: Annotated[
        Path | None, typer.Option(help="Private broker folder to update and reload (the demo's .urbanpulse/mosquitto).")
    ] = None,
    metadata: Annotated[
        str | None,
        typer.Option(
            help='JSON merged into the device\'s metadata, e.g. \'{"alarm_levels": {"water_level": 0.1}, '
            '"drainage": {"crown_m": 1.42, "drain_mm_h": 30}}\' (docs/forecasting.md).'
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Provision a device: registry row + broker credentials; prints its edge config (password shown once)."""
    from edge.protocol import ProtocolError
    from ingest.embedded.mosquitto import update_running_broker
    from ingest.provisioning import provision_device

    settings = server_settings(config)
    try:
        extra = _metadata_object(metadata)
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            device = provision_device(conn, device_id, display_name=name, ward=ward, district=district, latitude=lat,
                                      longitude=lon, metadata=extra)  # fmt: skip
            hashed = conn.execute("SELECT credential_hash FROM devices WHERE device_id = %s", (device_id,)).fetchone()
    except (ProtocolError, ValueError) as error:
        typer.echo(f"urbanpulse device add: {error}", err=True)
        raise typer.Exit(2) from error
    mqtt = settings.mqtt()
    if broker_dir is not None and hashed:
        reloaded = update_running_broker(broker_dir, {device_id: hashed[0]})
        typer.echo(f"# broker accounts updated in {broker_dir}" + (" and reloaded" if reloaded else ""), err=True)
    typer.echo(device.edge_config(mqtt.host, mqtt.port, mqtt.tls), nl=False)


def _metadata_object(text: str | None) -> dict[str, object]:
    """The ``--metadata`` JSON as an object; ValueError naming what is wrong."""
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"--metadata is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise ValueError('--metadata must be a JSON object, e.g. \'{"drainage": {"crown_m": 1.42}}\'')
    return value


@device_app.command("configure")
def device_configure(
    device_id: Annotated[str, typer.Argument(help="The device to configure.")],
    interval: Annotated[list[str] | None, typer.Option(help="SENSOR=SECONDS, e.g. water_level=30.")] = None,
    disable: Annotated[list[str] | None, typer.Option(help="A sensor to stop sampling.")] = None,
    enable: Annotated[list[str] | None, typer.Option(help="A sensor to sample again.")] = None,
    config: ConfigOption = None,
) -> None:
    """Send a remote config (retained, applied without restart; the device's answer lands in device_status)."""
    import time

    from edge.protocol import ProtocolError, RemoteConfig, SensorSetting
    from ingest.remote_config import PushError, push_config

    settings = server_settings(config)
    sensors: dict[str, dict[str, object]] = {}
    try:
        for item in interval or []:
            name, _, seconds = item.partition("=")
            sensors.setdefault(name, {})["interval_s"] = float(seconds)
        for name in disable or []:
            sensors.setdefault(name, {})["enabled"] = False
        for name in enable or []:
            sensors.setdefault(name, {})["enabled"] = True
        remote = RemoteConfig(int(time.time()), {n: SensorSetting(**s) for n, s in sensors.items()})  # type: ignore[arg-type]
        RemoteConfig.decode(remote.encode())  # the same checks the device makes
        push_config(settings.mqtt(), device_id, remote)
    except (ValueError, ProtocolError, PushError) as error:
        typer.echo(f"urbanpulse device configure: {error}", err=True)
        raise typer.Exit(2) from error
    typer.echo(f"config version {remote.version} sent to {device_id}")


@device_app.command("list")
def device_list(config: ConfigOption = None) -> None:
    """List devices with their location and sensor count."""
    from ingest.storage.registry import list_devices

    settings = server_settings(config)
    with psycopg.connect(settings.database_url) as conn:
        devices = list_devices(conn)
    typer.echo(f"{'device':<24} {'sensors':>7}  {'district':<16} {'ward':<16} location")
    for d in devices:
        where = f"{d.latitude:.5f},{d.longitude:.5f}" if d.latitude is not None and d.longitude is not None else "-"
        typer.echo(f"{d.device_id:<24} {d.sensors:>7}  {d.district or '-':<16} {d.ward or '-':<16} {where}")


def main() -> None:
    app(prog_name="urbanpulse")


if __name__ == "__main__":
    main()
