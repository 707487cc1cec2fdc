"""Pushing a remote configuration to a device: a retained message on its config topic.

Retained, so a device that is offline now gets it when it next connects; the device answers
on its config/ack topic and the ingestor records the answer in ``device_status``.
"""

from __future__ import annotations

import threading
from typing import Any

from edge import protocol
from edge.mqtt_client import make_client


class PushError(RuntimeError):
    pass


def push_config(endpoint: protocol.MqttEndpoint, device_id: str, config: protocol.RemoteConfig,
                timeout_s: float = 15.0) -> None:  # fmt: skip
    """Publish ``config`` retained at QoS 1 and wait for the broker's acknowledgement."""
    client = make_client(endpoint, f"urbanpulse-config-{device_id}")
    done = threading.Event()
    outcome: list[Any] = []

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            outcome.append(f"broker refused the connection: {reason}")
            done.set()
            return
        client.publish(protocol.device_topic(device_id, protocol.CONFIG_CHANNEL), config.encode(), qos=1, retain=True)

    def on_publish(_c: Any, _u: Any, _mid: int, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            outcome.append(f"broker refused the config: {reason}")
        done.set()

    client.on_connect = on_connect
    client.on_publish = on_publish
    client.connect_async(endpoint.host, endpoint.port)
    client.loop_start()
    try:
        if not done.wait(timeout_s):
            raise PushError(f"no answer from the broker at {endpoint.redacted()} within {timeout_s:g} s")
        if outcome:
            raise PushError(str(outcome[0]))
    finally:
        client.disconnect()
        client.loop_stop()
