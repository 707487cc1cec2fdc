"""``urbanpulse device``: the device registry, broker credentials and remote configuration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import psycopg
import typer

from api.cli.options import ConfigOption, server_settings

device_app = typer.Typer(help="Device registry and broker credentials.", no_args_is_help=True)


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
    from ingest.broker_files import update_running_broker
    from ingest.provisioning import provision_device

    settings = server_settings(config)
    try:
        extra = _metadata_object(metadata)
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            device = provision_device(conn, device_id, display_name=name, ward=ward, district=district, latitude=lat,
                                      longitude=lon, metadata=extra)  # fmt: skip
    except (ProtocolError, ValueError) as error:
        typer.echo(f"urbanpulse device add: {error}", err=True)
        raise typer.Exit(2) from error
    mqtt = settings.mqtt()
    if broker_dir is not None:
        reloaded = update_running_broker(broker_dir, {device_id: device.credential_hash})
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
    from storage.registry import list_devices

    settings = server_settings(config)
    with psycopg.connect(settings.database_url) as conn:
        devices = list_devices(conn)
    typer.echo(f"{'device':<24} {'sensors':>7}  {'district':<16} {'ward':<16} location")
    for d in devices:
        where = f"{d.latitude:.5f},{d.longitude:.5f}" if d.latitude is not None and d.longitude is not None else "-"
        typer.echo(f"{d.device_id:<24} {d.sensors:>7}  {d.district or '-':<16} {d.ward or '-':<16} {where}")
