"""Sites with their current state, as GeoJSON and as the map's compact list (maintained state, no readings scan)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated

import psycopg
from fastapi import APIRouter, Path, Query, Request, Response

from api.http.deps import Config, Conn, Now, Public, clock
from api.http.errors import documented, not_found
from api.queries.sites import SiteScope, StatusRules, sites_for_map, sites_geojson
from api.schemas.sites import Feature, FeatureCollection, MapSites
from runtime.settings import ApiSettings

router = APIRouter(prefix="/api/v1", tags=["sites"],
                   responses=documented(401, 422))  # fmt: skip
DEVICE_ID = r"^[a-z0-9][a-z0-9-]{1,62}$"
AreaName = Annotated[str | None, Query(min_length=1, max_length=100)]


class GeoJSONResponse(Response):
    media_type = "application/geo+json"


class JSONText(Response):
    """JSON the database already wrote (no re-encoding)."""

    media_type = "application/json"


def status_rules(settings: ApiSettings) -> StatusRules:
    return StatusRules(timedelta(seconds=settings.stale_after_s), settings.watch_probability)


@router.get("/sites", response_class=GeoJSONResponse, responses={200: {"model": FeatureCollection}})
def list_sites(request: Request, who: Public, settings: Config, district: AreaName = None,
               ward: AreaName = None) -> Response:  # fmt: skip
    """Every site (optionally of one district / ward) with its sensors' newest values, device health,
    open alerts and flood probability within 3 h; ``status`` is the worst of alarm > watch > offline >
    stale > normal. Rendered at most every ``api.sites_cache_s`` per API copy (and at once after a
    change of alerts or devices); gzip-encoded when the client accepts it."""
    return cached(request, settings, SiteScope(district, ward), sites_geojson, GeoJSONResponse)


@router.get("/map/sites", response_class=JSONText, responses={200: {"model": MapSites}})
def map_sites(request: Request, who: Public, settings: Config) -> Response:
    """Every site as the dashboard's map draws it: id, status, name, district, ward and position as
    one array per site (a sixth of ``/sites``, which stays the open-data answer); the site panel reads
    the rest with ``/sites/{device_id}``, and the live stream sends whole features. Cached as ``/sites``."""
    return cached(request, settings, SiteScope(), sites_for_map, JSONText)


Render = Callable[[psycopg.Connection, SiteScope, StatusRules, datetime], str]


def cached(request: Request, settings: ApiSettings, scope: SiteScope, render: Render, response: type[Response],
           **headers: str) -> Response:  # fmt: skip
    """``render``'s JSON for the scope from this process's rendered cache (``api.http.rendered``), one
    entry per render function and area."""
    pool = request.app.state.pool

    def rendered() -> str:
        with pool.connection() as conn:
            return render(conn, scope, status_rules(settings), clock())

    if settings.sites_cache_s == 0:
        return response(rendered(), headers=headers)
    entry = request.app.state.sites_cache.get((render, scope.district, scope.ward), rendered)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return response(entry.gzipped, headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding", **headers})
    return response(entry.body, headers={"Vary": "Accept-Encoding", **headers})


@router.get(
    "/sites/{device_id}", response_class=GeoJSONResponse, responses={200: {"model": Feature}, **documented(404)}
)
def one_site(who: Public, conn: Conn, settings: Config, now: Now, device_id: str = Path(pattern=DEVICE_ID)) -> Response:
    text = sites_geojson(conn, SiteScope(device_ids=[device_id]), status_rules(settings), now)
    features = json.loads(text)["features"]
    if not features:
        raise not_found(f"site {device_id}")
    return GeoJSONResponse(json.dumps(features[0], separators=(",", ":")))
