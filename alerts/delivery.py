"""Delivering the outbox: apprise targets (e-mail, Telegram, Slack, webhooks, ...) and MQTT topics.

At least once: a row is marked sent only after its channel accepted it, in the row's own
transaction (``FOR UPDATE SKIP LOCKED``, so N engine copies never send one row twice at the same
time). A failure is retried with capped exponential backoff and its error kept on the row. The
one window for a duplicate is a crash between a channel's acceptance and that row's commit;
every body carries the alert ids so a receiver can tell.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import psycopg

from edge import protocol
from edge.mqtt_client import make_client
from runtime.backoff import Backoff

log = logging.getLogger(__name__)
MQTT_TIMEOUT_S = 10.0


class DeliveryError(Exception):
    """A channel refused or could not take a notification (retried later)."""


class Channel(Protocol):
    def send(self, target: str, title: str, body: str) -> None: ...


class AppriseChannel:
    """One library for the many channels people use; the target is an apprise URL."""

    def send(self, target: str, title: str, body: str) -> None:
        import apprise  # imported on use: only the alerts service needs it

        notifier = apprise.Apprise()
        if not notifier.add(target):
            raise DeliveryError(f"apprise does not understand the target {_redact(target)}")
        if not notifier.notify(title=title, body=body):
            raise DeliveryError(f"apprise could not deliver to {_redact(target)}")


class MqttChannel:
    """Publishes QoS 1 on the broker with the alerts service account; waits for the broker's ack."""

    def __init__(self, endpoint: protocol.MqttEndpoint, client_id: str = "urbanpulse-alerts") -> None:
        self._client = make_client(endpoint, client_id)
        self._connected = threading.Event()
        self._client.on_connect = lambda *a: self._connected.set()
        self._client.on_disconnect = lambda *a: self._connected.clear()
        self._client.connect_async(endpoint.host, endpoint.port)
        self._client.loop_start()

    def send(self, target: str, title: str, body: str) -> None:
        if not self._connected.wait(MQTT_TIMEOUT_S):
            raise DeliveryError("not connected to the broker")
        info = self._client.publish(target, body.encode(), qos=1)
        info.wait_for_publish(MQTT_TIMEOUT_S)
        if not info.is_published():
            raise DeliveryError(f"the broker did not acknowledge the publish on {target}")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def open_channels(mqtt_url: str | None, client_id: str = "urbanpulse-alerts") -> dict[str, Channel]:
    """The channels a running engine delivers through: apprise always, MQTT when a URL is configured."""
    found: dict[str, Channel] = {"apprise": AppriseChannel()}
    if mqtt_url:
        found["mqtt"] = MqttChannel(protocol.parse_mqtt_url(mqtt_url), client_id)
    return found


def close_channels(channels: dict[str, Channel]) -> None:
    for channel in channels.values():
        if isinstance(channel, MqttChannel):
            channel.close()


def _redact(target: str) -> str:
    """An apprise URL without its credentials (they often hold tokens), for logs and the outbox."""
    scheme, sep, rest = target.partition("://")
    return f"{scheme}{sep}{rest.rsplit('@', 1)[-1]}" if sep else "<target>"


@dataclass(frozen=True)
class DeliveryResult:
    sent: int
    failed: int


def deliver_due(
    conninfo: str,
    channels: Mapping[str, Channel],
    backoff: Backoff,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    limit: int = 200,
) -> DeliveryResult:
    """Send every due outbox row once; rows for a channel that is not configured wait."""
    sent = failed = 0
    with psycopg.connect(conninfo) as conn:
        for _ in range(limit):
            with conn.transaction():
                row = conn.execute(
                    """SELECT notification_id, channel, target, title, body, attempts FROM notification_outbox
                       WHERE sent_at IS NULL AND next_attempt_at <= %s AND channel = ANY(%s)
                       ORDER BY notification_id LIMIT 1 FOR UPDATE SKIP LOCKED""",
                    (clock(), list(channels)),
                ).fetchone()
                if row is None:
                    break
                if _attempt(conn, row, channels[row[1]], backoff, clock):
                    sent += 1
                else:
                    failed += 1
    return DeliveryResult(sent, failed)


def _attempt(conn: psycopg.Connection, row: Any, channel: Channel, backoff: Backoff,
             clock: Callable[[], datetime]) -> bool:  # fmt: skip
    notification_id, _, target, title, body, attempts = row
    try:
        channel.send(target, title, body)
    except Exception as error:  # noqa: BLE001 - any channel failure is retried, never lost
        wait = backoff.delay(attempts + 1)
        log.warning("notification %d to %s failed (attempt %d): %s; retrying in %.0f s",
                    notification_id, _redact(target), attempts + 1, error, wait)  # fmt: skip
        conn.execute(
            """UPDATE notification_outbox SET attempts = attempts + 1, next_attempt_at = %s, last_error = %s
               WHERE notification_id = %s""",
            (clock() + timedelta(seconds=wait), str(error)[:500], notification_id),
        )
        return False
    conn.execute(
        "UPDATE notification_outbox SET attempts = attempts + 1, sent_at = %s, last_error = NULL "
        "WHERE notification_id = %s",
        (clock(), notification_id),
    )
    return True
