"""Decode and validate one MQTT readings message: pure logic, no I/O, ``now`` passed in.

A message is either rejected whole (it cannot be read as a pack for its topic) or split
into accepted records and rejected records, each rejection with a stable reason code so
operators can count and search them. Implausible but well-formed values are *accepted*
here; the quality module flags them (QARTOD), because a true record flood is also "absurd".
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge import protocol
from runtime.settings import ValidationSettings


class Reason(enum.StrEnum):
    """Why a message or a record was quarantined. Values are stable: dashboards count them."""

    PAYLOAD_TOO_LARGE = "payload_too_large"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NOT_SENML = "not_senml"
    EMPTY_PACK = "empty_pack"
    UNSUPPORTED_VERSION = "unsupported_version"
    BAD_TOPIC = "bad_topic"
    DEVICE_MISMATCH = "device_mismatch"
    UNKNOWN_DEVICE = "unknown_device"
    BAD_RECORD = "bad_record"
    BAD_NAME = "bad_name"
    UNKNOWN_METRIC = "unknown_metric"
    BAD_VALUE = "bad_value"
    NON_FINITE_VALUE = "non_finite_value"
    UNKNOWN_UNIT = "unknown_unit"
    TIME_IN_FUTURE = "time_in_future"
    TIME_TOO_OLD = "time_too_old"
    DUPLICATE_RECORD = "duplicate_record"
    STORAGE_REJECTED = "storage_rejected"
    BAD_STATUS = "bad_status"
    BAD_HEARTBEAT = "bad_heartbeat"


@dataclass(frozen=True)
class Rejection:
    reason: Reason
    detail: str
    record: object = None  # the offending SenML record (None: the whole message)


def unknown_device(device_id: str | None) -> Rejection:
    """The whole message comes from a device the registry does not know."""
    return Rejection(Reason.UNKNOWN_DEVICE, f"device {device_id!r} is not in the registry")


@dataclass
class DecodedMessage:
    """Accepted records of one message as parallel lists, plus the rejections."""

    device_id: str | None
    sensors: list[str] = field(default_factory=list)  # local sensor names
    times: list[float] = field(default_factory=list)  # seconds since the epoch
    values: list[float] = field(default_factory=list)  # in the kind's canonical unit
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def rejected_whole(self) -> bool:
        return not self.sensors and any(r.record is None for r in self.rejections)


def _nan_constant(_token: str) -> float:
    # JSON has no NaN/Infinity, but Python's parser accepts them; keep them so the
    # offending *record* is rejected rather than the whole message.
    return math.nan


def decode_message(topic: str, payload: bytes, now: float, limits: ValidationSettings) -> DecodedMessage:
    """Turn one readings message into accepted records and reasoned rejections.

    ``now`` is the receive time (seconds since the epoch); relative SenML times resolve
    against it and the skew/age limits are measured from it. Never raises on bad input.
    """
    try:
        device_id, _channel = protocol.parse_device_topic(topic)
    except protocol.ProtocolError as error:
        return _whole(None, Reason.BAD_TOPIC, str(error))
    if len(payload) > limits.max_payload_bytes:
        return _whole(device_id, Reason.PAYLOAD_TOO_LARGE, f"{len(payload)} bytes > limit {limits.max_payload_bytes}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        return _whole(device_id, Reason.NOT_UTF8, str(error))
    try:
        pack = json.loads(text, parse_constant=_nan_constant)
    except (json.JSONDecodeError, RecursionError) as error:
        return _whole(device_id, Reason.NOT_JSON, str(error))
    if not isinstance(pack, list):
        return _whole(device_id, Reason.NOT_SENML, f"a SenML pack is a JSON array, got {type(pack).__name__}")
    if not pack:
        return _whole(device_id, Reason.EMPTY_PACK, "the pack has no records")
    if len(pack) >= BULK_MIN_RECORDS:
        clean = _decode_clean_pack(device_id, pack, now, limits)
        if clean is not None:
            return clean
    return _decode_records(device_id, pack, now, limits)


def _whole(device_id: str | None, reason: Reason, detail: str) -> DecodedMessage:
    return DecodedMessage(device_id=device_id, rejections=[Rejection(reason, detail)])


# Below this many records the bulk path's fixed NumPy cost outweighs what it saves (measured:
# 1.6 vs 2.5 us per reading at 100 records, 4.4 vs 3.2 at 10).
BULK_MIN_RECORDS = 32
_HEAD_KEYS = frozenset({"bn", "bt", "bu", "bver", "n", "v", "t", "u"})
_TAIL_KEYS = frozenset({"n", "v", "t", "u"})
_NUMBER_TYPES = frozenset({int, float})


def _decode_clean_pack(
    device_id: str, pack: list[Any], now: float, limits: ValidationSettings
) -> DecodedMessage | None:
    """Bulk path for the common case, a pack with nothing wrong in it; None sends it to the per-record path.

    Checks each property over the whole pack at C speed (comprehensions, sets, NumPy) and
    gives up at the first doubt, so the per-record path stays the one place that explains
    rejections. Must agree exactly with ``_decode_records`` on every pack it accepts.
    """
    head = pack[0]
    try:
        if not head.keys() <= _HEAD_KEYS or not all(r.keys() <= _TAIL_KEYS for r in pack[1:]):
            return None
    except AttributeError:  # a record that is not an object
        return None
    if head.get("bn") != protocol.base_name(device_id) or head.get("bver", protocol.SENML_VERSION) != 10:
        return None
    base_time = head.get("bt", 0.0)
    if type(base_time) not in _NUMBER_TYPES:
        return None
    base_unit = head.get("bu")
    try:
        names = [r["n"] for r in pack]
        values = [r["v"] for r in pack]
    except KeyError:
        return None
    offsets = [r.get("t", 0.0) for r in pack]
    units = [r.get("u", base_unit) for r in pack]
    if not set(map(type, values)) <= _NUMBER_TYPES or not set(map(type, offsets)) <= _NUMBER_TYPES:
        return None
    factors: dict[tuple[object, object], float] = {}
    for name, unit in set(zip(names, units, strict=True)):
        kind = protocol.kind_of(name) if type(name) is str else None
        metric = protocol.METRIC_KINDS.get(kind) if kind else None
        factor = metric.accepted_units.get(unit) if metric and type(unit) is str else None
        if factor is None:
            return None
        factors[(name, unit)] = factor
    value_array = np.array(values, dtype=np.float64)
    times = np.array(offsets, dtype=np.float64) + float(base_time)
    if not (np.isfinite(value_array).all() and np.isfinite(times).all()):
        return None
    times = np.where(times < protocol.SENML_RELATIVE_TIME_LIMIT, times + now, times)
    if times.min() < now - limits.max_age_s or times.max() > now + limits.max_future_skew_s:
        return None
    time_list = times.tolist()
    if len(set(zip(names, time_list, strict=True))) != len(names):
        return None
    scale = np.array([factors[key] for key in zip(names, units, strict=True)], dtype=np.float64)
    return DecodedMessage(device_id, names, time_list, (value_array * scale).tolist())


def _decode_records(device_id: str, pack: list[Any], now: float, limits: ValidationSettings) -> DecodedMessage:
    result = DecodedMessage(device_id=device_id)
    expected_base = protocol.base_name(device_id)
    base_name = ""
    base_time = 0.0
    base_unit: str | None = None
    earliest = now - limits.max_age_s
    latest = now + limits.max_future_skew_s
    seen: set[tuple[str, float]] = set()
    reject = result.rejections.append

    for record in pack:
        if not isinstance(record, dict):
            reject(Rejection(Reason.BAD_RECORD, "a SenML record is a JSON object", record))
            continue
        # Base fields apply to this record and all that follow (RFC 8428 §4.1).
        if "bver" in record and record["bver"] != protocol.SENML_VERSION:
            return _whole(device_id, Reason.UNSUPPORTED_VERSION, f"bver {record['bver']!r} is not supported")
        if "bn" in record:
            base_name = record["bn"]
            if base_name != expected_base:
                return _whole(
                    device_id,
                    Reason.DEVICE_MISMATCH,
                    f"base name {base_name!r} does not match the topic's device {device_id!r}",
                )
        if "bt" in record:
            bt = record["bt"]
            if not protocol.is_number(bt) or not math.isfinite(bt):
                reject(Rejection(Reason.BAD_RECORD, f"base time {bt!r} is not a finite number", record))
                continue
            base_time = float(bt)
        if "bu" in record:
            base_unit = record["bu"]

        name = record.get("n", "")
        if not base_name:
            reject(Rejection(Reason.BAD_NAME, "no base name ('bn') names the device before this record", record))
            continue
        if not isinstance(name, str):
            reject(Rejection(Reason.BAD_NAME, f"name {name!r} is not a string", record))
            continue
        kind = protocol.kind_of(name)
        if kind is None:
            reject(Rejection(Reason.BAD_NAME, f"sensor name {name!r} is not kind[.channel]", record))
            continue
        metric = protocol.METRIC_KINDS.get(kind)
        if metric is None:
            reject(Rejection(Reason.UNKNOWN_METRIC, f"unknown metric kind {kind!r}", record))
            continue

        if "v" not in record:
            reject(Rejection(Reason.BAD_VALUE, "record has no numeric value 'v'", record))
            continue
        value = record["v"]
        if not protocol.is_number(value):
            reject(Rejection(Reason.BAD_VALUE, f"value {value!r} is not a number", record))
            continue
        if not math.isfinite(value):
            reject(Rejection(Reason.NON_FINITE_VALUE, "value is NaN or infinite", record))
            continue

        unit = record.get("u", base_unit)
        factor = metric.accepted_units.get(unit) if isinstance(unit, str) else None
        if factor is None:
            accepted = ", ".join(metric.accepted_units)
            reject(Rejection(Reason.UNKNOWN_UNIT, f"unit {unit!r} is not valid for {kind} ({accepted})", record))
            continue

        offset = record.get("t", 0.0)
        if not protocol.is_number(offset) or not math.isfinite(offset):
            reject(Rejection(Reason.BAD_RECORD, f"time {offset!r} is not a finite number", record))
            continue
        when = base_time + offset
        if when < protocol.SENML_RELATIVE_TIME_LIMIT:
            when += now
        if when > latest:
            reject(Rejection(Reason.TIME_IN_FUTURE, f"time {when:.3f} is {when - now:.0f} s ahead of now", record))
            continue
        if when < earliest:
            reject(Rejection(Reason.TIME_TOO_OLD, f"time {when:.3f} is {now - when:.0f} s old", record))
            continue
        key = (name, when)
        if key in seen:
            reject(Rejection(Reason.DUPLICATE_RECORD, f"{name} at {when:.6f} appears twice in the pack", record))
            continue
        seen.add(key)
        result.sensors.append(name)
        result.times.append(when)
        result.values.append(value * factor)
    return result
