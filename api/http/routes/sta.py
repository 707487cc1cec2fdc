"""Open data as an OGC SensorThings API v1.1 subset (read-only) at ``/sta/v1.1``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request

from api.http.deps import Conn, Public
from api.http.errors import ApiError, documented
from api.sta.entities import ENTITIES
from api.sta.query import StaError, answer

PREFIX = "/sta/v1.1"
router = APIRouter(prefix=PREFIX, tags=["open data"], responses=documented(400, 401, 404))
CONFORMANCE = [
    "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


@router.get("", response_model=dict[str, Any])
def index(request: Request, who: Public) -> dict[str, Any]:
    """The service root: the entity sets and what this server conforms to (read-only, no MQTT)."""
    base = _base(request)
    return {"value": [{"name": name, "url": f"{base}/{name}"} for name in ENTITIES],
            "serverSettings": {"conformance": CONFORMANCE}}  # fmt: skip


@router.get("/{resource:path}", response_model=dict[str, Any])
def resource(request: Request, who: Public, conn: Conn, resource: str = Path(max_length=500)) -> dict[str, Any]:
    """``Things``, ``Things('id')``, ``Datastreams(5)/Observations`` ... with ``$top $skip $orderby $count
    $select $expand $filter`` (comparisons, and / or / not, times: ``phenomenonTime ge 2026-12-01T00:00:00Z``)."""
    params = dict(request.query_params)
    if len(params.get("$filter", "")) > 2000:
        raise ApiError(400, "bad_query", "$filter: at most 2000 characters", "$filter")
    try:
        return answer(conn, resource, params, _base(request))
    except StaError as error:
        raise ApiError(error.status, "bad_query" if error.status == 400 else "not_found", str(error),
                       error.field) from error  # fmt: skip
