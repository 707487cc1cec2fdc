from __future__ import annotations

import json
import math

import pytest

from edge import protocol
from ingest.validation import Reason, ValidationLimits, decode_message

NOW = 1_800_000_000.0
LIMITS = ValidationLimits(max_payload_bytes=4096, max_future_skew_s=300, max_age_s=86400)
TOPIC = protocol.readings_topic("dev-01")


def decode(records: object, topic: str = TOPIC) -> tuple[list[tuple[str, float, float]], list[Reason]]:
    payload = records if isinstance(records, bytes) else json.dumps(records).encode()
    result = decode_message(topic, payload, NOW, LIMITS)
    return list(zip(result.sensors, result.times, result.values, strict=True)), [r.reason for r in result.rejections]


def test_a_device_pack_decodes_to_canonical_units() -> None:
    readings = [protocol.Reading("water_level", NOW - 60, 82.0, "cm"), protocol.Reading("traffic_speed", NOW, 10, "m/s")]
    rows, reasons = decode(json.loads(protocol.encode_pack("dev-01", readings)))
    assert reasons == []
    assert rows[0][0] == "water_level" and rows[0][1] == NOW - 60 and math.isclose(rows[0][2], 0.82)
    assert rows[1] == ("traffic_speed", NOW, 36.0)


def test_relative_senml_time_resolves_against_receive_time() -> None:
    rows, _ = decode([{"bn": "dev-01/", "n": "rainfall", "u": "mm", "v": 1.0, "t": -30}])
    assert rows == [("rainfall", NOW - 30, 1.0)]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff", Reason.NOT_UTF8),
        (b"{", Reason.NOT_JSON),
        (b'{"v": 1}', Reason.NOT_SENML),
        (b"[]", Reason.EMPTY_PACK),
        (b"[" + b" " * 5000 + b"]", Reason.PAYLOAD_TOO_LARGE),
        (b'[{"bn": "dev-02/", "n": "rainfall", "v": 1}]', Reason.DEVICE_MISMATCH),
        (b'[{"bn": "dev-01/", "bver": 99, "n": "rainfall", "v": 1}]', Reason.UNSUPPORTED_VERSION),
    ],
)
def test_unreadable_messages_are_rejected_whole(payload: bytes, reason: Reason) -> None:
    result = decode_message(TOPIC, payload, NOW, LIMITS)
    assert result.rejected_whole and [r.reason for r in result.rejections] == [reason]


def test_bad_topic() -> None:
    result = decode_message("elsewhere/dev-01", b"[]", NOW, LIMITS)
    assert [r.reason for r in result.rejections] == [Reason.BAD_TOPIC]


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ("not an object", Reason.BAD_RECORD),
        ({"n": "rainfall", "u": "mm", "v": "wet"}, Reason.BAD_VALUE),
        ({"n": "rainfall", "u": "mm", "v": True}, Reason.BAD_VALUE),
        ({"n": "rainfall", "u": "mm", "vs": "text"}, Reason.BAD_VALUE),
        ({"n": "rainfall", "u": "mm", "v": float("nan")}, Reason.NON_FINITE_VALUE),
        ({"n": "rainfall", "u": "in", "v": 1}, Reason.UNKNOWN_UNIT),
        ({"n": "rainfall", "v": 1}, Reason.UNKNOWN_UNIT),
        ({"n": "humidity", "u": "%RH", "v": 1}, Reason.UNKNOWN_METRIC),
        ({"n": "Rain Fall", "u": "mm", "v": 1}, Reason.BAD_NAME),
        ({"n": "rainfall", "u": "mm", "v": 1, "t": 3600}, Reason.TIME_IN_FUTURE),
        ({"n": "rainfall", "u": "mm", "v": 1, "t": -2 * 86400}, Reason.TIME_TOO_OLD),
        ({"n": "rainfall", "u": "mm", "v": 1, "t": "soon"}, Reason.BAD_RECORD),
    ],
)
def test_bad_records_are_rejected_alone(record: object, reason: Reason) -> None:
    good = {"n": "water_level", "u": "m", "v": 0.5}
    rows, reasons = decode([{"bn": "dev-01/", "bt": NOW}, record, good])
    assert reasons[-1] == reason
    assert rows == [("water_level", NOW, 0.5)]


def test_duplicate_records_in_one_pack() -> None:
    record = {"n": "rainfall", "u": "mm", "v": 1.0}
    rows, reasons = decode([{"bn": "dev-01/", "bt": NOW, **record}, record])
    assert len(rows) == 1 and reasons == [Reason.DUPLICATE_RECORD]


def test_base_unit_applies_to_following_records() -> None:
    rows, reasons = decode([{"bn": "dev-01/", "bt": NOW, "bu": "mm", "n": "rainfall", "v": 1}, {"n": "rainfall",
                                                                                              "v": 2, "t": 60}])
    assert reasons == [] and [r[2] for r in rows] == [1, 2]
