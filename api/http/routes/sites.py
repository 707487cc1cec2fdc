"""Sites with their current state, as GeoJSON: the map's query (maintained state, no readings scan)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from api.http.deps import Config, Conn, Now, Public, clock
from api.http.errors import documented, not_found
from api.queries.sites import SiteScope, StatusRules, sites_geojson
from api.schemas.sites import Feature, FeatureCollection
from runtime.settings import ApiSettings

router = APIRouter(prefix="/api/v1/sites", tags=["sites"],
                   responses=documented(401, 422))  # fmt: skip
DEVICE_ID = r"^[a-z0-9][a-z0-9-]{1,62}$"
AreaName = Annotated[str | None, Query(min_length=1, max_length=100)]


class GeoJSONResponse(Response):
    media_type = "application/geo+json"


def status_rules(settings: ApiSettings) -> StatusRules:
    return StatusRules(timedelta(seconds=settings.stale_after_s), settings.watch_probability)


@router.get("", response_class=GeoJSONResponse, responses={200: {"model": FeatureCollection}})
def list_sites(request: Request, who: Public, settings: Config, district: AreaName = None,
               ward: AreaName = None) -> Response:  # fmt: skip
    """Every site (optionally of one district / ward) with its sensors' newest values, device health,
    open alerts and flood probability within 3 h; ``status`` is the worst of alarm > watch > offline >
    stale > normal. Rendered at most every ``api.sites_cache_s`` per API copy (and at once after a
    change of alerts or devices); gzip-encoded when the client accepts it."""
    return cached_collection(request, settings, SiteScope(district, ward))


def cached_collection(request: Request, settings: ApiSettings, scope: SiteScope, **headers: str) -> Response:
    """The scope's FeatureCollection from this process's rendered cache (``api.http.rendered``)."""
    pool = request.app.state.pool

    def render() -> str:
        with pool.connection() as conn:
            return sites_geojson(conn, scope, status_rules(settings), clock())

    if settings.sites_cache_s == 0:
        return GeoJSONResponse(render(), headers=headers)
    entry = request.app.state.sites_cache.get((scope.district, scope.ward), render)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return GeoJSONResponse(
            entry.gzipped, headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding", **headers}
        )
    return GeoJSONResponse(entry.body, headers={"Vary": "Accept-Encoding", **headers})


@router.get("/{device_id}", response_class=GeoJSONResponse, responses={200: {"model": Feature}, **documented(404)})
def one_site(who: Public, conn: Conn, settings: Config, now: Now, device_id: str = Path(pattern=DEVICE_ID)) -> Response:
    text = sites_geojson(conn, SiteScope(device_ids=[device_id]), status_rules(settings), now)
    features = json.loads(text)["features"]
    if not features:
        raise not_found(f"site {device_id}")
    return GeoJSONResponse(json.dumps(features[0], separators=(",", ":")))
