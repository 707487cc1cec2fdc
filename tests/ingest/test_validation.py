from __future__ import annotations

import json
import math
import random
from collections.abc import Callable

import pytest

from edge import protocol
from ingest.validation import Reason, _decode_clean_pack, _decode_records, decode_message
from runtime.settings import ValidationSettings

NOW = 1_800_000_000.0
LIMITS = ValidationSettings(max_payload_bytes=4096, max_future_skew_s=300, max_age_s=86400)
TOPIC = protocol.readings_topic("dev-01")


def decode(records: object, topic: str = TOPIC) -> tuple[list[tuple[str, float, float]], list[Reason]]:
    payload = records if isinstance(records, bytes) else json.dumps(records).encode()
    result = decode_message(topic, payload, NOW, LIMITS)
    return list(zip(result.sensors, result.times, result.values, strict=True)), [r.reason for r in result.rejections]


def test_a_device_pack_decodes_to_canonical_units() -> None:
    readings = [
        protocol.Reading("water_level", NOW - 60, 82.0, "cm"),
        protocol.Reading("traffic_speed", NOW, 10, "m/s"),
    ]
    rows, reasons = decode(json.loads(protocol.encode_pack("dev-01", readings)))
    assert reasons == []
    assert rows[0][0] == "water_level" and rows[0][1] == NOW - 60 and math.isclose(rows[0][2], 0.82)
    assert rows[1] == ("traffic_speed", NOW, 36.0)


def test_relative_senml_times_are_refused_unless_the_setting_accepts_them() -> None:
    pack = [{"bn": "dev-01/", "n": "rainfall", "u": "mm", "v": 1.0, "t": -30}]
    rows, reasons = decode(pack)
    assert rows == [] and reasons == [Reason.RELATIVE_TIME]  # not resend-safe: a copy would get another time
    accepting = ValidationSettings(
        max_payload_bytes=4096, max_future_skew_s=300, max_age_s=86400, accept_relative_times=True
    )
    result = decode_message(TOPIC, json.dumps(pack).encode(), NOW, accepting)
    assert (result.sensors, result.times, result.values) == (["rainfall"], [NOW - 30], [1.0])


@pytest.mark.parametrize(
    ("record_text", "reason"),
    [
        ('"n": "rainfall", "u": "mm", "v": ' + "9" * 401, Reason.BAD_VALUE),  # never converted to a float
        ('"n": "rainfall", "u": "mm", "v": ' + "9" * 5000, Reason.BAD_VALUE),  # nor parsed as an int
        ('"n": "rainfall", "u": "mm", "v": ' + "9" * 40, Reason.OUT_OF_RANGE),  # 40 digits: read, out of range
        ('"n": "rainfall", "u": "mm", "v": 1' + "0" * 400 + ".5", Reason.NON_FINITE_VALUE),  # a decimal: inf
        ('"n": "rainfall", "u": "mm", "v": 1, "t": ' + "9" * 401, Reason.BAD_RECORD),
        ('"n": "rainfall", "u": "mm", "v": 1, "t": ' + "9" * 30, Reason.TIME_IN_FUTURE),
        ('"n": [], "u": "mm", "v": 1', Reason.BAD_NAME),
        ('"n": "rainfall", "u": [], "v": 1', Reason.UNKNOWN_UNIT),
        ('"n": "traffic_speed", "u": "m/s", "v": 1e308', Reason.OUT_OF_RANGE),  # inf km/h after conversion
        ('"n": "traffic_speed", "u": "km/h", "v": -Infinity', Reason.NON_FINITE_VALUE),
        ('"n": "rainfall", "u": "mm", "v": -0.2', Reason.OUT_OF_RANGE),
        ('"n": "traffic_count", "u": "count", "v": -1', Reason.OUT_OF_RANGE),
        ('"n": "rainfall", "u": "mm", "v": ' + "[" * 900 + "]" * 900, Reason.BAD_VALUE),
        ('"n": "' + "x" * 100_000 + '", "u": "mm", "v": 1', Reason.UNKNOWN_METRIC),  # a bounded detail
    ],
)
def test_poison_records_are_rejected_alone_on_both_paths(record_text: str, reason: Reason) -> None:
    head = '{"bn": "dev-01/", "bt": ' + repr(NOW) + ", " + record_text + "}"
    good = [{"n": "water_level", "u": "m", "v": 0.5, "t": -i} for i in range(1, 40)]
    for payload in (f"[{head}]".encode(), f"[{head}, {json.dumps(good)[1:-1]}]".encode()):  # per-record, bulk
        result = decode_message(TOPIC, payload, NOW, ValidationSettings(max_payload_bytes=1 << 20))
        assert [r.reason for r in result.rejections] == [reason]
        assert len(result.sensors) == payload.count(b"water_level")
        assert all(len(r.detail) < 400 for r in result.rejections)
        assert all(math.isfinite(v) for v in result.values)


def test_nesting_beyond_the_parser_is_refused_whole() -> None:
    result = decode_message(TOPIC, b"[" * 100_000 + b"]" * 100_000, NOW, ValidationSettings(max_payload_bytes=1 << 20))
    assert [r.reason for r in result.rejections] == [Reason.NOT_JSON] and "nested" in result.rejections[0].detail


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
    rows, reasons = decode(
        [{"bn": "dev-01/", "bt": NOW, "bu": "mm", "n": "rainfall", "v": 1}, {"n": "rainfall", "v": 2, "t": 60}]
    )
    assert reasons == [] and [r[2] for r in rows] == [1, 2]


def _random_pack(rng: random.Random, size: int) -> list[dict[str, object]]:
    kinds = {"water_level": ["m", "cm", "mm"], "rainfall": ["mm"], "traffic_count": ["count"],
             "traffic_speed": ["km/h", "m/s"]}  # fmt: skip
    head: dict[str, object] = {"bn": "dev-01/", "bt": NOW - rng.uniform(0, 3600)}
    if rng.random() < 0.5:
        head["bu"] = "mm"
    pack = []
    for i in range(size):
        kind = rng.choice(list(kinds))
        record: dict[str, object] = {
            "n": f"{kind}.c{rng.randint(0, 3)}",
            "v": rng.choice([rng.randint(0, 100), rng.uniform(0, 100)]),  # possible for every kind and unit
        }
        if not (kind == "rainfall" and "bu" in head and rng.random() < 0.5):
            record["u"] = rng.choice(kinds[kind])
        record["t"] = i * 0.25
        pack.append({**head, **record} if i == 0 else record)
    return pack


def test_bulk_and_per_record_paths_agree_on_clean_and_faulty_packs() -> None:
    rng = random.Random(5)
    faults: list[Callable[[list[dict[str, object]]], None]] = [
        lambda p: p[7].update(v="x"),
        lambda p: p[9].update(v=float("inf")),
        lambda p: p[11].update(u="Cel"),
        lambda p: p[3].update(t=10_000),
        lambda p: p.append(dict(p[-1])),
        lambda p: p[5].update(bu="m"),
        lambda p: p[6].update(v=True),
        lambda p: p.insert(4, "text"),  # type: ignore[arg-type]
        lambda p: p[0].update(bt=1.0),  # relative times
        lambda p: p[8].update(v=-1.0),  # negative: no kind can be below zero but water level
        lambda p: p[10].update(v=1e308),  # overflows the m/s conversion when it is a speed
    ]
    for trial in range(60):
        pack = _random_pack(rng, 40 + trial)
        if trial % 3:
            rng.choice(faults)(pack)
        limits = ValidationSettings(max_payload_bytes=1 << 20, max_future_skew_s=300, max_age_s=86400)
        bulk = decode_message(TOPIC, json.dumps(pack).encode(), NOW, limits)
        as_received = json.loads(json.dumps(pack), parse_constant=lambda _: math.nan)
        per_record = _decode_records("dev-01", as_received, NOW, limits)
        assert bulk.sensors or bulk.rejections
        if not trial % 3:  # clean: must have taken the bulk path
            assert _decode_clean_pack("dev-01", as_received, NOW, limits) is not None
        assert (bulk.sensors, bulk.times, bulk.values) == (per_record.sensors, per_record.times, per_record.values)
        assert [(r.reason, r.record) for r in bulk.rejections] == [(r.reason, r.record) for r in per_record.rejections]
