"""``python -m ingest`` (and ``urbanpulse ingest``): run one ingestor until SIGINT or SIGTERM, then leave cleanly."""

from __future__ import annotations

import sys

from prometheus_client import start_http_server

from ingest.errors import BrokerAuthError
from ingest.metrics import IngestMetrics
from ingest.service import Ingestor
from runtime.process import launch
from runtime.settings import Settings
from runtime.shutdown import handle_signals


def serve(settings: Settings) -> int:
    """The one start-up path of the ingestor; returns the exit status (2: our broker credentials refused)."""
    metrics = IngestMetrics()
    if settings.ingest.metrics_port:
        start_http_server(settings.ingest.metrics_port, addr=settings.ingest.metrics_host, registry=metrics.registry)
    with handle_signals() as shutdown:
        try:
            Ingestor(settings, metrics).run(shutdown.requested)
        except BrokerAuthError as error:
            print(f"urbanpulse ingest: {error}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    launch(serve)
