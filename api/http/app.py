"""``create_app(settings)``: the one FastAPI application of UrbanPulse's HTTP API.

Nothing happens at import: the pool, the storage engine and the live-stream hub are set up in
the lifespan of the app that ``create_app`` returns. The process keeps no state of its own
beyond caches and the hub's connections, so any number of copies can run behind a balancer.
The dashboard (``api/web/static``) is served at ``/`` when it is installed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import anyio
from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from psycopg_pool import ConnectionPool

from api.http import openapi
from api.http.assets import StaticAssets
from api.http.deps import CSRF_HEADER
from api.http.errors import documented, install_handlers
from api.http.metrics import ApiMetrics, MetricsMiddleware
from api.http.rendered import RenderedCache
from api.http.routes import (
    alerts,
    areas,
    auth,
    devices,
    events,
    open_data,
    sensors,
    service,
    silences,
    sites,
    sta,
    tokens,
    users,
)
from api.http.routes.sites import status_rules
from api.http.stream import EventHub
from runtime.settings import Settings
from storage.migrate import current_engine

STATIC = Path(__file__).resolve().parents[1] / "web" / "static"
GZIP_MIN_BYTES = 1400  # smaller answers fit one packet anyway
POOL_TIMEOUT_S = 5.0  # a request waits this long for a connection, then gets 503


def create_app(settings: Settings) -> FastAPI:
    api = settings.api
    metrics = ApiMetrics()
    pool = ConnectionPool(settings.database_url, min_size=1, max_size=api.pool_size, open=False,
                          timeout=POOL_TIMEOUT_S, kwargs={"autocommit": True})  # fmt: skip

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(lambda: pool.open(wait=True, timeout=30))
        with pool.connection() as conn:
            app.state.engine = current_engine(conn)
        hub = EventHub(settings.database_url, pool, status_rules(api), timedelta(hours=api.events_keep_h),
                       api.client_queue, metrics, on_change=sites_cache.expire)  # fmt: skip
        await hub.start()
        app.state.hub = hub
        try:
            yield
        finally:
            await hub.stop()
            await anyio.to_thread.run_sync(pool.close)

    app = FastAPI(title="UrbanPulse API", version="1", lifespan=lifespan, responses=documented(400, 422),
                  description="Sites, readings, forecasts, alerts and the live stream of Ho Chi Minh City's "
                              "flood and traffic operations centre. Times are UTC (ISO 8601 with Z).")  # fmt: skip
    sites_cache = RenderedCache(api.sites_cache_s)
    app.state.pool = pool
    app.state.sites_cache = sites_cache
    app.state.metrics = metrics
    app.state.api_settings = api
    app.state.mqtt = settings.mqtt()  # the account that pushes device configurations
    install_handlers(app)
    openapi.install(app)
    for module in (
        service,
        auth,
        users,
        tokens,
        sites,
        sensors,
        alerts,
        silences,
        devices,
        areas,
        events,
        open_data,
        sta,
    ):
        app.include_router(module.router)
    if api.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=api.cors_origins, allow_credentials=True,
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", CSRF_HEADER, "Last-Event-ID"])  # fmt: skip
    # Large API answers compressed for clients that ask (the dashboard's files come compressed
    # already: api.http.assets). The live stream (text/event-stream) is never buffered by it.
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES, compresslevel=5)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    _serve_dashboard(app)
    return app


def _serve_dashboard(app: FastAPI) -> None:
    """``/`` and ``/static`` from the dashboard's package folder, when the dashboard is installed."""
    if not (STATIC / "index.html").is_file():
        return
    assets = StaticAssets(STATIC)
    app.mount("/static", assets, name="static")

    @app.get("/", include_in_schema=False)
    async def index(request: Request) -> Response:
        return await assets.serve(request, "index.html")
