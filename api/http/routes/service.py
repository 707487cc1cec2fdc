"""Liveness, readiness, Prometheus metrics and the dashboard's configuration."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from api.http.deps import Config
from api.http.errors import documented, error_response
from api.schemas.common import Out

router = APIRouter(tags=["service"])


class Health(BaseModel):
    status: str


class MapConfig(Out):
    style_url: str | None
    tile_url: str | None
    attribution: str


class ConfigOut(Out):
    map: MapConfig
    default_language: str
    anonymous_read: bool
    version: str


def _version() -> str:
    try:
        return version("urbanpulse")
    except PackageNotFoundError:
        return "unknown"


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is alive (it answers); says nothing of the database."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses=documented(503))
def readyz(request: Request) -> Response | Health:
    """Ready to serve: the database answers within 2 s."""
    try:
        with request.app.state.pool.connection(timeout=2.0) as conn:
            conn.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        return error_response(503, "unavailable", "the database is not answering")
    return Health(status="ready")


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/v1/config", response_model=ConfigOut)
def config(settings: Config) -> ConfigOut:
    """What the dashboard needs before login: map sources, language, whether reading is open."""
    return ConfigOut(map=MapConfig(style_url=settings.map_style_url, tile_url=settings.map_tile_url,
                                   attribution=settings.map_attribution),
                     default_language=settings.default_language, anonymous_read=settings.anonymous_read,
                     version=_version())  # fmt: skip
