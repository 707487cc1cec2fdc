"""``urbanpulse ingest``, ``serve`` and ``edge``: the long-running services, started the way
``python -m <package>`` starts them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli.options import ConfigOption, server_settings

services_app = typer.Typer()


@services_app.command()
def ingest(config: ConfigOption = None) -> None:
    """Run one ingestor (as many copies as you like: they share the MQTT subscription); SIGINT or
    SIGTERM stop it cleanly."""
    from ingest.__main__ import serve

    raise typer.Exit(serve(server_settings(config)))


@services_app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: api.host).")] = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535, help="Port (default: api.port).")] = None,
    config: ConfigOption = None,
) -> None:
    """Serve the HTTP API and the dashboard (stateless: run as many copies as you like)."""
    from api.http.server import serve as run_server

    settings = server_settings(config)
    run_server(settings, host or settings.api.host, settings.api.port if port is None else port)


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
