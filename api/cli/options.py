"""Command-line options and settings loading shared by the ``urbanpulse`` command groups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from runtime.logs import configure_logging
from runtime.settings import Settings, load_settings

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML settings file (else URBANPULSE_CONFIG / env vars).")
]


def server_settings(config: Path | None) -> Settings:
    """Settings (file, environment, defaults) with logging configured from them."""
    settings = load_settings(config)
    configure_logging(settings.log_level, settings.log_format)
    return settings
