"""A hostile device: what a careless or malicious vendor's firmware may publish, from a seed.

Pure (a NumPy random generator, no network): ``hostile_messages`` returns messages for every
topic a device may publish on - readings, status, heartbeat, config/ack - made from valid ones
by one of the ``Mutation`` kinds: byte flips, truncation, a field's value swapped for a hostile
token (integers of hundreds or thousands of digits, 1e308, NaN and -Infinity, lone surrogates,
NUL, 100,000 levels of nesting, 100,000-character strings, negative or absurd quantities,
relative SenML times), or junk bytes. Some mutations leave a message valid, as in the field. The
fuzz test (``tests/e2e/test_fuzz.py``) and its large run (``bench/bench_fuzz.py``) send them
through the real broker beside counted good packs.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import assert_never

import numpy as np

from edge import protocol

_PLACEHOLDER = "\x01hostile\x01"
HOSTILE_TOKENS: tuple[bytes, ...] = (
    b"9" * 401,  # overflows every float conversion
    b"-" + b"7" * 5000,  # beyond Python's 4,300-digit int parsing limit
    b"18446744073709551616",  # 2**64: beyond bigint
    b"1e308",
    b"-1e308",
    b"1e-400",
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b'"\\ud800"',  # a lone surrogate: no UTF-8 encoder takes it
    b'"nul\\u0000byte"',  # PostgreSQL text refuses NUL
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 2_000 + b"1" + b"}" * 2_000,
    b'"' + b"x" * 100_000 + b'"',
    b"[]",
    b"{}",
    b"true",
    b"null",
    b'""',
    b"-1",
    b"-0.5",
    b"0",
    b"3.5",
    b"1e20",
    b'"water_level"',
    b'"m/s"',
    b'"\xc3\xa9t\xc3\xa9"',  # UTF-8 text
)
_READING_KINDS = (("water_level", "m", 0.0, 3.0), ("rainfall", "mm", 0.0, 40.0),
                  ("traffic_count.lane1", "count", 0.0, 300.0), ("traffic_speed", "km/h", 0.0, 90.0))  # fmt: skip


class Mutation(enum.StrEnum):
    NONE = "none"  # sent as made: a valid message
    BYTE_FLIP = "byte_flip"
    TRUNCATE = "truncate"
    FIELD_SWAP = "field_swap"  # one field's value replaced by a hostile token
    FIELD_DROP = "field_drop"
    RELATIVE_TIME = "relative_time"
    JUNK = "junk"  # random bytes


@dataclass(frozen=True)
class HostileMessage:
    channel: str  # protocol.READINGS_CHANNEL, STATUS_CHANNEL, HEARTBEAT_CHANNEL or CONFIG_ACK_CHANNEL
    payload: bytes
    mutation: Mutation


def hostile_messages(
    device_id: str, count: int, now: float, seed: int = 0, mutations: Sequence[Mutation] = tuple(Mutation)
) -> list[HostileMessage]:
    """``count`` messages for ``device_id``, each made by one of ``mutations`` (``(Mutation.NONE,)``:
    valid messages of the same shapes, a reference); readings stamped within the hour before ``now``."""
    rng = np.random.default_rng([seed, 12])
    channels = (protocol.READINGS_CHANNEL, protocol.STATUS_CHANNEL, protocol.HEARTBEAT_CHANNEL,
                protocol.CONFIG_ACK_CHANNEL)  # fmt: skip
    out = []
    for index in range(count):
        channel = channels[int(rng.choice(4, p=[0.55, 0.15, 0.15, 0.15]))]
        document = _valid_document(device_id, channel, now - 3600 + index * 3600 / max(count, 1), rng)
        mutation = mutations[int(rng.integers(len(mutations)))]
        out.append(HostileMessage(channel, _mutate(document, mutation, rng), mutation))
    return out


def _valid_document(device_id: str, channel: str, when: float, rng: np.random.Generator) -> object:
    if channel == protocol.READINGS_CHANNEL:
        readings = []
        for step in range(int(rng.integers(1, 12))):
            name, unit, low, high = _READING_KINDS[int(rng.integers(len(_READING_KINDS)))]
            value = round(float(rng.uniform(low, high)), 3)
            readings.append(protocol.Reading(name, when + step * 0.001, value, unit))
        return json.loads(protocol.encode_pack(device_id, readings))
    if channel == protocol.STATUS_CHANNEL:
        return {"state": "online", "version": "1.2.3"}
    if channel == protocol.HEARTBEAT_CHANNEL:
        beat = protocol.Heartbeat(when, int(rng.integers(0, 500)), 12.5, 0, 0, 0, 10**9, 51.0, 3600.0, "1.2.3",
                                  protocol.CLOCK_SYNCED)  # fmt: skip
        return dict(beat.__dict__)
    return {"version": int(rng.integers(1, 100)), "status": "rejected", "reason": "unknown sensor(s)"}


def _mutate(document: object, mutation: Mutation, rng: np.random.Generator) -> bytes:
    text = json.dumps(document, separators=(",", ":")).encode()
    match mutation:
        case Mutation.NONE:
            return text
        case Mutation.BYTE_FLIP:
            flipped = bytearray(text)
            for position in rng.integers(len(flipped), size=int(rng.integers(1, 4))):
                flipped[int(position)] ^= int(rng.integers(1, 256))
            return bytes(flipped)
        case Mutation.TRUNCATE:
            return text[: int(rng.integers(len(text)))]
        case Mutation.FIELD_SWAP | Mutation.FIELD_DROP | Mutation.RELATIVE_TIME:
            return _edit_field(document, mutation, rng) or text
        case Mutation.JUNK:
            return rng.bytes(int(rng.integers(0, 300)))
        case unreachable:
            assert_never(unreachable)


def _edit_field(document: object, mutation: Mutation, rng: np.random.Generator) -> bytes | None:
    """The document with one field changed: its value swapped for a hostile token, dropped, or (a
    readings pack) its base time made relative. None when the document has no field to change."""
    target = document
    if isinstance(document, list):  # a SenML pack: one of its records
        if not document:
            return None
        target = document[int(rng.integers(len(document)))]
    if not isinstance(target, dict) or not target:
        return None
    keys = sorted(target)
    key = keys[int(rng.integers(len(keys)))]
    if mutation == Mutation.FIELD_DROP:
        del target[key]
        return json.dumps(document, separators=(",", ":")).encode()
    if mutation == Mutation.RELATIVE_TIME:
        if not isinstance(document, list):
            return None
        document[0]["bt"] = float(rng.uniform(-600, 0))  # below 2**28: "seconds from now" in SenML
        return json.dumps(document, separators=(",", ":")).encode()
    target[key] = _PLACEHOLDER
    token = HOSTILE_TOKENS[int(rng.integers(len(HOSTILE_TOKENS)))]
    text = json.dumps(document, separators=(",", ":")).encode()
    return text.replace(json.dumps(_PLACEHOLDER).encode(), token, 1)
