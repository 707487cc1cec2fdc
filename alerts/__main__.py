"""``python -m alerts`` (and ``urbanpulse alerts run``): evaluate and notify until SIGINT or SIGTERM."""

from __future__ import annotations

import sys
from pathlib import Path

from alerts.delivery import close_channels, open_channels
from alerts.engine import RuleSource, run_service
from alerts.errors import RulesError
from runtime.process import launch
from runtime.settings import Settings
from runtime.shutdown import handle_signals


def serve(settings: Settings, rules: Path | None = None) -> int:
    """The one start-up path of the alert engine; returns the exit status (2: the rules are wrong)."""
    try:
        source = RuleSource(rules or settings.alerts.rules_file)
    except RulesError as error:
        print(f"urbanpulse alerts run: {error}", file=sys.stderr)
        return 2
    channels = open_channels(settings.alerts.mqtt_url)
    try:
        with handle_signals() as shutdown:
            run_service(settings.database_url, source, settings.alerts, channels, shutdown.requested)
    finally:
        close_channels(channels)
    return 0


if __name__ == "__main__":
    launch(serve)
