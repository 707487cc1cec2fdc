"""``urbanpulse ingest`` and ``urbanpulse edge``: the long-running services, started the way
``python -m <package>`` starts them."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

import typer

from api.cli.options import ConfigOption, server_settings

services_app = typer.Typer()


@services_app.command()
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


@services_app.command()
def edge(
    config: Annotated[Path, typer.Option("--config", "-c", help="Edge agent TOML.")] = Path(
        "/etc/urbanpulse/edge.toml"
    ),
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING, ERROR.")] = "INFO",
) -> None:
    """Run the edge agent (the same as `python -m edge`): sample sensors, store, forward."""
    from edge.__main__ import main as edge_main

    raise typer.Exit(edge_main(["--config", str(config), "--log-level", log_level]))
