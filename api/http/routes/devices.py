"""Devices with their health, and their remote configuration (pushed to the broker, retained)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import anyio
from fastapi import APIRouter, Path, Query, Request

from api.http.deps import Admin, Config, Conn, Now, Viewer
from api.http.errors import ApiError, documented
from api.http.params import comma_list
from api.http.routes.sites import DEVICE_ID
from api.queries import devices as queries
from api.schemas.devices import DeviceConfigIn, DeviceOut, HealthFilter
from edge import protocol
from ingest.remote_config import PushError, push_config

router = APIRouter(prefix="/api/v1/devices", tags=["devices"],
                   responses=documented(401, 403, 422))  # fmt: skip
DeviceId = Annotated[str, Path(pattern=DEVICE_ID)]
HealthParam = Annotated[str | None, Query(max_length=100, description="comma list: offline, stale, backlog, clock")]


@router.get("", response_model=list[DeviceOut])
def list_devices(who: Viewer, conn: Conn, settings: Config, now: Now,
                 health: HealthParam = None) -> list[DeviceOut]:  # fmt: skip
    """Every device (or those with any of the named problems), by id."""
    problems = frozenset(comma_list(health, HealthFilter, "health"))
    return queries.list_devices(conn, now, _stale(settings.stale_after_s), problems)


@router.get("/{device_id}", response_model=DeviceOut, responses=documented(404))
def one_device(who: Viewer, conn: Conn, settings: Config, now: Now, device_id: DeviceId) -> DeviceOut:
    return queries.get_device(conn, device_id, now, _stale(settings.stale_after_s))


@router.put("/{device_id}/config", response_model=DeviceOut,
            responses=documented(404, 503))  # fmt: skip
async def configure(body: DeviceConfigIn, request: Request, who: Admin, conn: Conn, settings: Config, now: Now,
                    device_id: DeviceId) -> DeviceOut:  # fmt: skip
    """Send the device a new sensor configuration (retained: an offline device gets it when it returns);
    its answer appears in ``config_ack``. Checked as the device checks it before anything is sent."""
    assert who.username is not None
    device = await anyio.to_thread.run_sync(queries.get_device, conn, device_id, now, _stale(settings.stale_after_s))
    sensors = {name: protocol.SensorSetting(s.enabled, s.interval_s) for name, s in body.sensors.items()}
    remote = protocol.RemoteConfig(int(now.timestamp()), sensors)
    try:
        protocol.RemoteConfig.decode(remote.encode())
    except protocol.ProtocolError as error:
        raise ApiError(422, "invalid", str(error), "sensors") from error
    try:
        await anyio.to_thread.run_sync(push_config, request.app.state.mqtt, device.device_id, remote)
    except PushError as error:
        raise ApiError(503, "broker_unavailable", f"the broker did not take the configuration: {error}") from error
    await anyio.to_thread.run_sync(queries.record_config, conn, device_id, remote, who.username, now)
    return await anyio.to_thread.run_sync(queries.get_device, conn, device_id, now, _stale(settings.stale_after_s))


def _stale(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)
