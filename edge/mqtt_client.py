"""How every UrbanPulse component builds its paho-mqtt client: MQTT v5, callback API v2,
credentials and TLS from the endpoint, reconnects backing off from 1 s to 30 s.

paho-mqtt and the standard library only (it runs on the street hardware too).
"""

from __future__ import annotations

import ssl

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge import protocol

RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
# CONNACK reason codes that retrying soon cannot fix (MQTT v5 §3.2.2.2): bad credentials and the like.
AUTH_FAILURES = frozenset({0x84, 0x85, 0x86, 0x87, 0x8C})


def make_client(endpoint: protocol.MqttEndpoint, client_id: str, *, manual_ack: bool = False) -> mqtt.Client:
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=manual_ack,
    )
    if endpoint.username:
        client.username_pw_set(endpoint.username, endpoint.password)
    if endpoint.tls:
        client.tls_set(ca_certs=endpoint.ca_file, cert_reqs=ssl.CERT_REQUIRED)
    client.reconnect_delay_set(min_delay=RECONNECT_MIN_S, max_delay=RECONNECT_MAX_S)
    return client
