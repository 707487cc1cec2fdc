"""``python -m forecasting`` (and ``urbanpulse forecast run``): issue forecasts until SIGINT or SIGTERM."""

from __future__ import annotations

import sys

from forecasting.service import run_service
from runtime.process import launch
from runtime.settings import Settings
from runtime.shutdown import handle_signals


def serve(settings: Settings) -> int:
    """The one start-up path of the forecast service; returns the exit status (2: a bad shard setting)."""
    try:
        settings.forecast.shard_pair()
    except ValueError as error:
        print(f"urbanpulse forecast run: {error}", file=sys.stderr)
        return 2
    with handle_signals() as shutdown:
        run_service(settings.database_url, settings.forecast, shutdown.requested)
    return 0


if __name__ == "__main__":
    launch(serve)
