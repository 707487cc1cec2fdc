"""Open data: the CAP 1.2 feed (Atom) and messages, and CSV / GeoJSON exports."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from alerts.rules import CapSettings
from api import atom
from api.http.deps import Config, Conn, Now, Public
from api.http.errors import documented
from api.http.routes.sensors import End, Start, window
from api.http.routes.sites import GeoJSONResponse, cached
from api.queries.cap import message, recent_messages
from api.queries.exports import readings_csv
from api.queries.readings import sensor_info
from api.queries.sites import SiteScope, sites_geojson
from api.schemas.sites import FeatureCollection

router = APIRouter(prefix="/api/v1", tags=["open data"],
                   responses=documented(401, 422))  # fmt: skip
FEED_ENTRIES = 200


class AtomResponse(Response):
    media_type = "application/atom+xml"


class CapResponse(Response):
    media_type = atom.CAP_MEDIA_TYPE


class CsvResponse(StreamingResponse):
    media_type = "text/csv"


@router.get("/cap/feed.atom", response_class=AtomResponse, responses={200: {"content": {"application/atom+xml": {}}}})
def cap_feed(request: Request, who: Public, conn: Conn, now: Now) -> Response:
    """The newest public CAP messages (Alert, Update, Cancel), newest first, each linking its document."""
    base = str(request.base_url).rstrip("/")
    text = atom.feed(recent_messages(conn, FEED_ENTRIES), f"{base}/api/v1/cap/feed.atom",
                     base + "/api/v1/cap/messages/{identifier}.xml", now, CapSettings().sender_name)  # fmt: skip
    return AtomResponse(text)


@router.get("/cap/messages/{identifier}.xml", response_class=CapResponse,
            responses={200: {"content": {atom.CAP_MEDIA_TYPE: {}}}, **documented(404)})  # fmt: skip
def cap_message(who: Public, conn: Conn, identifier: str = Path(pattern=r"^[A-Za-z0-9._-]{1,100}$")) -> Response:
    """One CAP 1.2 document as stored when it was sent."""
    return CapResponse(message(conn, identifier).xml)


@router.get("/export/readings.csv", response_class=CsvResponse,
            responses={200: {"content": {"text/csv": {}}}, **documented(404, 413)})  # fmt: skip
def export_readings(who: Public, conn: Conn, now: Now, sensor_id: int = Query(ge=1, le=2**31 - 1),
                    start: Start = None, end: End = None) -> StreamingResponse:  # fmt: skip
    """Raw readings of one sensor: ``time,value,qc`` (UTC, canonical unit, QARTOD flag)."""
    start, end = window(start, end, now, timedelta(hours=24))
    sensor = sensor_info(conn, sensor_id)
    rows = readings_csv(conn, sensor.sensor_id, start, end)
    name = f"urbanpulse-sensor-{sensor.sensor_id}-{sensor.kind}.csv"
    return CsvResponse(rows, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/export/sites.geojson", response_class=GeoJSONResponse, responses={200: {"model": FeatureCollection}})
def export_sites(request: Request, who: Public, settings: Config) -> Response:
    """Every site with its current state (the map's data) as a GeoJSON file."""
    disposition = 'attachment; filename="urbanpulse-sites.geojson"'
    headers = {"Content-Disposition": disposition}
    return cached(request, settings, SiteScope(), sites_geojson, GeoJSONResponse, **headers)
