"""Prometheus metrics of one API process: requests by route template and status, and their latency.

A pure ASGI middleware (no per-request task or body buffering), so it costs little and leaves
streaming responses (SSE) streaming. Labels use the route's template (``/api/v1/alerts/{alert_id}``),
never the raw path, so label cardinality stays bounded whatever clients send.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("urbanpulse_api_requests_total", "HTTP requests answered",
                                ["method", "route", "status"], registry=self.registry)  # fmt: skip
        self.seconds = Histogram("urbanpulse_api_request_seconds", "time to the response's headers",
                                 ["route"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))  # fmt: skip
        self.stream_clients = Gauge("urbanpulse_api_stream_clients", "connected live-stream clients",
                                    registry=self.registry)  # fmt: skip
        self.stream_dropped = Counter("urbanpulse_api_stream_dropped_total",
                                      "stream clients dropped for falling behind", registry=self.registry)  # fmt: skip
        self.events = Counter("urbanpulse_api_events_total", "live-stream events read from the database",
                              registry=self.registry)  # fmt: skip
        self.login_failures = Counter("urbanpulse_api_login_failures_total", "failed logins",
                                      registry=self.registry)  # fmt: skip


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                self._observe(scope, status[0], began)
            await send(message)

        await self.app(scope, receive, sending)

    def _observe(self, scope: Scope, status: int, began: float) -> None:
        route: Any = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        self.metrics.requests.labels(scope["method"], template, str(status)).inc()
        self.metrics.seconds.labels(template).observe(time.perf_counter() - began)
