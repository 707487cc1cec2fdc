"""How a service process starts: settings from the environment (and ``URBANPULSE_CONFIG``), logging,
then the service's own ``serve(settings) -> exit status``; ``python -m ingest``, ``forecasting`` and
``alerts`` all begin here."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn

from runtime.logs import configure_logging
from runtime.settings import Settings


def launch(serve: Callable[[Settings], int]) -> NoReturn:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    sys.exit(serve(settings))
