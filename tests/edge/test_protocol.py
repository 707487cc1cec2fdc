from __future__ import annotations

import json

import pytest

from edge import protocol


def test_topics_round_trip_and_reject_foreign_names() -> None:
    topic = protocol.readings_topic("hcm-q1-0007")
    assert topic == "urbanpulse/v1/devices/hcm-q1-0007/readings"
    assert protocol.parse_device_topic(topic) == ("hcm-q1-0007", "readings")
    assert protocol.subscription_filter(share_group="ingest") == "$share/ingest/urbanpulse/v1/devices/+/readings"
    for bad in ("urbanpulse/v1/devices/UPPER/readings", "other/dev-1/readings", "urbanpulse/v1/devices/dev-1/x"):
        with pytest.raises(protocol.ProtocolError):
            protocol.parse_device_topic(bad)
    with pytest.raises(protocol.ProtocolError):
        protocol.readings_topic("svc.ingest")  # service account names can never be device ids


def test_pack_uses_base_fields_and_relative_times() -> None:
    readings = [
        protocol.Reading("water_level", 1_800_000_000.0, 0.82, "m"),
        protocol.Reading("water_level", 1_800_000_060.0, 0.85, "m"),
        protocol.Reading("rainfall", 1_800_000_060.0, 1.5, "mm"),
    ]
    records = json.loads(protocol.encode_pack("dev-01", readings))
    assert records[0] == {"bn": "dev-01/", "bt": 1_800_000_000.0, "bu": "m", "bver": 10, "n": "water_level", "v": 0.82}
    assert records[1] == {"n": "water_level", "v": 0.85, "t": 60.0}  # "bu" applies; "u" is never inherited
    assert records[2] == {"n": "rainfall", "v": 1.5, "t": 60.0, "u": "mm"}


def test_sensor_names() -> None:
    assert protocol.sensor_name("traffic_count", "lane2") == "traffic_count.lane2"
    assert protocol.kind_of("traffic_count.lane2") == "traffic_count"
    assert protocol.kind_of("Water Level") is None
    with pytest.raises(protocol.ProtocolError):
        protocol.sensor_name("air_quality")


def test_mqtt_urls() -> None:
    endpoint = protocol.parse_mqtt_url("mqtts://dev-1:p%40ss@broker.example:8884")
    assert (endpoint.host, endpoint.port, endpoint.tls, endpoint.username, endpoint.password) == (
        "broker.example",
        8884,
        True,
        "dev-1",
        "p@ss",
    )
    assert protocol.parse_mqtt_url("mqtt://127.0.0.1").port == 1883
    assert "p@ss" not in endpoint.redacted()
    with pytest.raises(protocol.ProtocolError, match="mqtt://"):
        protocol.parse_mqtt_url("http://host")
