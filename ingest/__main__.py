"""``python -m ingest``: run one ingestor instance from the environment / URBANPULSE_CONFIG."""

from __future__ import annotations

import signal
import sys
import threading

from prometheus_client import start_http_server

from ingest.errors import BrokerAuthError
from ingest.metrics import IngestMetrics
from ingest.service import Ingestor
from runtime.logs import configure_logging
from runtime.settings import Settings


def main() -> int:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    metrics = IngestMetrics()
    if settings.ingest.metrics_port:
        start_http_server(settings.ingest.metrics_port, addr=settings.ingest.metrics_host, registry=metrics.registry)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        Ingestor(settings, metrics).run(stop)
    except BrokerAuthError as error:
        print(f"urbanpulse ingest: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
