"""Properties of the server's decoders over generated input (hypothesis): whatever a device sends,
decoding returns, and whatever it accepts is storable."""

from __future__ import annotations

import json
import math

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from edge import protocol, safejson
from ingest.batch import Inbound, prepare_batch
from ingest.health import ConfigAckEvent, HeartbeatEvent, StatusEvent, decode_health
from ingest.validation import Reason, Rejection, _decode_records, decode_message
from runtime.settings import ValidationSettings
from storage.pgcopy import unix_seconds_to_pg_micros

NOW = 1_800_000_000.0
LIMITS = ValidationSettings(max_payload_bytes=1 << 20, max_future_skew_s=300, max_age_s=86_400)
DEVICE = "dev-01"
TOPIC = protocol.readings_topic(DEVICE)
PROPERTIES = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

names = st.sampled_from(["water_level", "rainfall", "traffic_count", "traffic_speed.lane2", "humidity", "Bad Name", ""])
units = st.sampled_from(["m", "cm", "mm", "count", "km/h", "m/s", "Cel", ""])
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**60), max_value=10**60),
    st.sampled_from([NOW, NOW - 60.5, 1e308, -1e308, 2**28, 0, -0.0, 5e-324]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=20), names, units)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
)
record_keys = st.sampled_from(["bn", "bt", "bu", "bver", "n", "v", "t", "u", "vs", "s"])
# Valid records first, then a few mutations: most packs hold good readings next to the odd bad one,
# and clean packs of 32+ records take the bulk path.
valid_pairs = st.sampled_from(
    [
        ("water_level", "m"),
        ("water_level.a", "cm"),
        ("rainfall", "mm"),
        ("traffic_count.lane2", "count"),
        ("traffic_speed", "km/h"),
        ("traffic_speed", "m/s"),
    ]
)
good_records = st.builds(
    lambda pair, value: {"n": pair[0], "u": pair[1], "v": value},
    valid_pairs,
    st.one_of(st.floats(min_value=0, max_value=100), st.integers(min_value=0, max_value=100)),
)
mutations = st.lists(
    st.tuples(st.integers(min_value=0), record_keys, st.one_of(values, names, units, numbers) | st.just(None)),
    max_size=3,
)


def _mutated(records: list[dict[str, object]], changes: list[tuple[int, str, object]]) -> list[object]:
    timed = [{**record, "t": -0.5 * i} for i, record in enumerate(records)]  # distinct times
    pack: list[object] = [{"bn": f"{DEVICE}/", "bt": NOW, **timed[0]}, *timed[1:]] if timed else []
    for index, key, value in changes:
        if not pack:
            return [value]
        target = pack[index % len(pack)]
        if value is None and isinstance(target, dict):
            target.pop(key, None)
        elif isinstance(target, dict) and index % 7:
            target[key] = value
        else:
            pack[index % len(pack)] = value  # a record replaced by any JSON value
    return pack


sizes = st.lists(good_records, max_size=8) | st.lists(good_records, min_size=32, max_size=48)  # bulk path from 32
packs = st.builds(_mutated, sizes, mutations)


def _encoded(pack: object) -> bytes:
    return json.dumps(pack, allow_nan=True).encode()


def _check_accepted(result: object) -> None:
    from ingest.validation import DecodedMessage

    assert isinstance(result, DecodedMessage)
    assert len(result.sensors) == len(result.times) == len(result.values)
    assert len(set(zip(result.sensors, result.times, strict=True))) == len(result.sensors)
    for name, when, value in zip(result.sensors, result.times, result.values, strict=True):
        kind = protocol.METRIC_KINDS[protocol.kind_of(name) or ""]
        assert math.isfinite(value) and kind.minimum <= value <= kind.maximum
        assert NOW - LIMITS.max_age_s <= when <= NOW + LIMITS.max_future_skew_s
    for rejection in result.rejections:
        assert rejection.reason in Reason and len(rejection.detail) < 500


@PROPERTIES
@given(packs)
@example([{"bn": f"{DEVICE}/", "bt": 1e235, "n": "water_level", "u": "m", "v": 0.0}])  # found: a 236-digit detail
def test_any_json_pack_decodes_without_raising_and_accepts_only_storable_readings(pack: list[object]) -> None:
    result = decode_message(TOPIC, _encoded(pack), NOW, LIMITS)
    _check_accepted(result)
    # Whatever the decoder produced, the batch builder turns into rows and storable quarantine entries.
    message = Inbound(TOPIC, _encoded(pack), NOW, b"\x01")
    sensor_ids = {(DEVICE, name): i for i, name in enumerate(sorted(set(result.sensors)))}
    batch = prepare_batch([message], [result], {DEVICE: True}, sensor_ids, 1024)
    assert len(batch.rows) + batch.duplicates_in_batch <= len(result.sensors)
    for row in batch.quarantine:
        row.detail.encode("utf-8")
        assert "\x00" not in row.detail and len(row.payload) <= 1024


@PROPERTIES
@given(packs)
@example(  # a base time too long an integer to read: the reference must parse as the decoder does
    [{"bn": "dev-01/", "bt": NOW, "n": "water_level", "u": "m", "v": 0.0},
     {"n": "water_level", "u": "m", "v": 0.0, "t": -0.5, "bt": 10**40},
     {"n": "water_level", "u": "m", "v": 0.0, "t": -1.0}]
)  # fmt: skip
def test_the_bulk_path_agrees_with_the_per_record_path(pack: list[object]) -> None:
    if not pack or not all(isinstance(r, dict) for r in pack):
        return
    payload = _encoded(pack)
    both = decode_message(TOPIC, payload, NOW, LIMITS)
    read = safejson.loads(payload, keep_non_finite=True)  # as decode_message reads it (huge integers refused)
    assert isinstance(read, list)
    per_record = _decode_records(DEVICE, read, NOW, LIMITS)
    if both.rejected_whole:
        return
    assert (both.sensors, both.times, both.values) == (per_record.sensors, per_record.times, per_record.values)


@PROPERTIES
@given(st.binary(max_size=400))
def test_any_bytes_on_any_device_topic_decode_without_raising(payload: bytes) -> None:
    _check_accepted(decode_message(TOPIC, payload, NOW, LIMITS))
    for channel in (protocol.STATUS_CHANNEL, protocol.HEARTBEAT_CHANNEL, protocol.CONFIG_ACK_CHANNEL):
        assert isinstance(decode_health(DEVICE, channel, payload, NOW), Rejection | StatusEvent | HeartbeatEvent
                          | ConfigAckEvent)  # fmt: skip


readings = st.builds(
    lambda sensor, millis, value: protocol.Reading(sensor, NOW - millis / 1000, value,
                                                   protocol.METRIC_KINDS[sensor.split(".")[0]].unit),
    st.sampled_from(["water_level", "rainfall.gauge1", "traffic_count.lane2", "traffic_speed"]),
    st.integers(min_value=0, max_value=3_600_000),
    st.floats(min_value=0, max_value=500),
)  # fmt: skip


@PROPERTIES
@given(st.lists(readings, min_size=1, max_size=60, unique_by=lambda r: (r.sensor, r.time)))
def test_what_a_device_encodes_the_server_decodes_in_canonical_units(batch: list[protocol.Reading]) -> None:
    result = decode_message(TOPIC, protocol.encode_pack(DEVICE, batch), NOW, LIMITS)
    assert result.rejections == []
    # Times travel as offsets from the base time: equal to the microsecond; values exactly.
    assert len(result.sensors) == len(batch)
    for reading, name, when, value in zip(batch, result.sensors, result.times, result.values, strict=True):
        assert (name, value) == (reading.sensor, reading.value) and abs(when - reading.time) < 1e-6


VALID = {
    protocol.STATUS_CHANNEL: {"state": "online", "version": "0.1.0"},
    protocol.HEARTBEAT_CHANNEL: protocol.Heartbeat(NOW, 5, 1.5, 0, 0, 0, 10**9, 48.0, 360.0, "0.1", "synced").__dict__,
    protocol.CONFIG_ACK_CHANNEL: {"version": 7, "status": "rejected", "reason": "unknown sensor"},
}
fields = st.sampled_from(list(protocol.Heartbeat.__dataclass_fields__) + ["state", "version", "status", "reason"])
changes = st.dictionaries(fields, st.one_of(values, numbers), max_size=3)


@PROPERTIES
@given(st.sampled_from(list(VALID)), changes, st.booleans())
def test_control_messages_decode_to_bounded_events_or_a_reason(channel: str, change: dict[str, object],
                                                               from_valid: bool) -> None:  # fmt: skip
    data = {**VALID[channel], **change} if from_valid else change
    outcome = decode_health(DEVICE, channel, _encoded(data), NOW)
    if isinstance(outcome, Rejection):
        assert outcome.reason in (Reason.BAD_STATUS, Reason.BAD_HEARTBEAT, Reason.BAD_CONFIG_ACK)
        return
    texts: list[str | None] = []
    if isinstance(outcome, HeartbeatEvent):
        beat = outcome.beat
        assert 0 <= beat.time <= protocol.MAX_EPOCH_S and all(
            type(n) is int and 0 <= n <= protocol.MAX_COUNT
            for n in (beat.queue_depth, beat.evicted_total, beat.refused_total, beat.held_total)
        )
        texts.append(beat.version)
    elif isinstance(outcome, StatusEvent):
        texts.append(outcome.version)
    else:
        texts.append(outcome.reason)
    for text in texts:
        assert text is None or (text.isprintable() or not text)


@PROPERTIES
@given(
    st.lists(
        st.floats(min_value=NOW - 86_400, max_value=NOW), min_size=2, max_size=30, unique_by=lambda t: round(t, 6)
    ),  # fmt: skip
    st.integers(min_value=1),
)
def test_a_reading_has_the_same_key_in_whatever_pack_it_travels(times: list[float], split: int) -> None:
    """After a restart a device packs its unsettled readings anew: each must land on the key it had."""
    readings = [protocol.Reading("water_level", t, 1.0, "m") for t in times]
    cut = 1 + split % (len(readings) - 1)

    def keys(pack: list[protocol.Reading]) -> dict[float, int]:
        result = decode_message(TOPIC, protocol.encode_pack(DEVICE, pack), NOW, LIMITS)
        micros = unix_seconds_to_pg_micros(np.asarray(result.times))
        return dict(zip([r.time for r in pack], micros.tolist(), strict=True))

    whole = keys(readings)
    assert {**keys(readings[:cut]), **keys(readings[cut:][::-1])} == whole
