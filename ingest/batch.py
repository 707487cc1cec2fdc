"""Turn decoded messages into one batch of rows and quarantine entries.

Pure: device and sensor lookups are passed in as mappings, so this is tested without a
database. Copies of one reading across messages of a batch (a redelivered or resent message next
to its original) are removed here so the fast COPY path stays available; a copy that carries a
*different* value is a conflict and goes to the quarantine, as do conflicts the database finds
(``conflict_quarantine``). Every row remembers the message it came from, so each message's fate
can be told back to its device (``ingest.settlement``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from edge import protocol
from ingest.quality import flag_batch
from ingest.validation import DecodedMessage, Reason, Rejection, unknown_device
from storage.pgcopy import unix_seconds_to_pg_micros
from storage.writer import Conflict, QuarantineRow, ReadingRows

KIND_ORDER: list[str] = list(protocol.METRIC_KINDS)
MAX_DETAIL_CHARS = 2000


class Inbound(NamedTuple):
    """One MQTT message as received; ``received_at`` in seconds since the epoch.

    A NamedTuple, not a dataclass: one is built per message on the network thread.
    ``correlation`` is the MQTT v5 Correlation Data the device chose for the pack, if any.
    """

    topic: str
    payload: bytes
    received_at: float
    correlation: bytes | None = None


@dataclass
class PreparedBatch:
    rows: ReadingRows
    row_messages: npt.NDArray[np.int32]  # index of the message each row came from
    row_records: npt.NDArray[np.int32]  # index of the row among its message's accepted records
    quarantine: list[QuarantineRow]
    quarantine_messages: list[int]  # index of the message each quarantine row came from
    accepted: list[int]  # accepted readings per message (0 for unknown devices)
    quarantined_by_reason: Counter[str] = field(default_factory=Counter)
    duplicates_in_batch: int = 0
    # device -> (newest reading time by the device's clock, when its message arrived by ours), Unix s
    arrivals: dict[str, tuple[float, float]] = field(default_factory=dict)


def clean_text(text: str) -> str:
    """``text`` bounded and made storable as PostgreSQL text (no NUL, no lone surrogates)."""
    text = text[:MAX_DETAIL_CHARS].replace("\x00", "\\x00")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def quarantine_row(message: Inbound, device_id: str | None, rejection: Rejection, limit: int) -> QuarantineRow:
    """The quarantine entry for ``rejection``: the offending record, or the raw message when it is whole."""
    raw = message.payload
    if rejection.record is not None:
        try:
            raw = json.dumps(rejection.record, separators=(",", ":"), default=repr).encode()
        except (ValueError, TypeError, RecursionError):  # a record too deep or too odd to render: keep the message
            raw = message.payload
    return QuarantineRow(
        received_at=datetime.fromtimestamp(message.received_at, UTC),
        topic=message.topic,
        device_id=device_id,
        reason=str(rejection.reason),
        detail=clean_text(rejection.detail),
        payload=raw[:limit],
        payload_bytes=len(raw),
        record_scope=rejection.record is not None,
    )


def prepare_batch(
    messages: Sequence[Inbound],
    decoded: Sequence[DecodedMessage],
    known_devices: Mapping[str, bool],
    sensor_ids: Mapping[tuple[str, str], int],
    quarantine_payload_bytes: int,
) -> PreparedBatch:
    """Rows for every accepted record of a known device; everything else quarantined with a reason.

    ``known_devices[device_id]`` says whether the registry knows the device;
    ``sensor_ids`` must hold every (device_id, sensor name) of known devices' accepted records.
    """
    quarantine: list[QuarantineRow] = []
    quarantine_messages: list[int] = []
    reasons: Counter[str] = Counter()
    ids: list[int] = []
    times: list[float] = []
    values: list[float] = []
    kind_codes = {kind: code for code, kind in enumerate(KIND_ORDER)}
    kinds: list[int] = []
    origins: list[int] = []
    positions: list[int] = []
    accepted: list[int] = []
    arrivals: dict[str, tuple[float, float]] = {}
    for index, (message, result) in enumerate(zip(messages, decoded, strict=True)):
        device_id = result.device_id
        rejections = list(result.rejections)
        taken = 0
        if result.sensors and device_id is not None:
            if known_devices.get(device_id, False):
                taken = len(result.sensors)
                ids += [sensor_ids[(device_id, name)] for name in result.sensors]
                kinds += [kind_codes[name.partition(".")[0]] for name in result.sensors]
                times += result.times
                values += result.values
                origins += [index] * taken
                positions += range(taken)
                newest, arrived = arrivals.get(device_id, (-np.inf, -np.inf))
                arrivals[device_id] = (max(newest, *result.times), max(arrived, message.received_at))
            else:
                rejections = [unknown_device(device_id)]
        accepted.append(taken)
        for rejection in rejections:
            reasons[rejection.reason] += 1
            quarantine.append(quarantine_row(message, device_id, rejection, quarantine_payload_bytes))
            quarantine_messages.append(index)

    sensor_array = np.asarray(ids, dtype=np.int32)
    time_us = unix_seconds_to_pg_micros(np.asarray(times, dtype=np.float64))
    value_array = np.asarray(values, dtype=np.float64)
    kind_array = np.asarray(kinds, dtype=np.int8)
    row_messages = np.asarray(origins, dtype=np.int32)
    row_records = np.asarray(positions, dtype=np.int32)
    keep, conflicting = copies_in_batch(sensor_array, time_us, value_array)
    for row in np.flatnonzero(conflicting):
        index = int(row_messages[row])
        message, result = messages[index], decoded[index]
        rejection = _conflict(result, int(row_records[row]), "another message of the same batch")
        reasons[rejection.reason] += 1
        quarantine.append(quarantine_row(message, result.device_id, rejection, quarantine_payload_bytes))
        quarantine_messages.append(index)
    duplicates = len(sensor_array) - int(keep.sum()) - int(conflicting.sum())
    if not keep.all():
        sensor_array, time_us, value_array, kind_array = (
            sensor_array[keep],
            time_us[keep],
            value_array[keep],
            kind_array[keep],
        )
        row_messages, row_records = row_messages[keep], row_records[keep]
    rows = ReadingRows(sensor_array, time_us, value_array, flag_batch(kind_array, value_array, KIND_ORDER))
    return PreparedBatch(rows, row_messages, row_records, quarantine, quarantine_messages, accepted, reasons,
                         duplicates, arrivals)  # fmt: skip


def conflict_quarantine(
    batch: PreparedBatch,
    messages: Sequence[Inbound],
    decoded: Sequence[DecodedMessage],
    conflicts: Sequence[Conflict],
    quarantine_payload_bytes: int,
) -> list[tuple[int, QuarantineRow]]:
    """(message index, quarantine row) for each row the database already held with another value."""
    entries = []
    for conflict in conflicts:
        index = int(batch.row_messages[conflict.row])
        result = decoded[index]
        held = f"the stored value {conflict.stored_value!r}"
        rejection = _conflict(result, int(batch.row_records[conflict.row]), held)
        entries.append((index, quarantine_row(messages[index], result.device_id, rejection, quarantine_payload_bytes)))
    return entries


def _conflict(result: DecodedMessage, position: int, other: str) -> Rejection:
    """A reading whose (sensor, time) is taken by a different value: the record as decoded, canonical unit."""
    name, when, value = result.sensors[position], result.times[position], result.values[position]
    kind = protocol.METRIC_KINDS[name.partition(".")[0]]
    record = {"bn": protocol.base_name(result.device_id or ""), "n": name, "t": when, "v": value, "u": kind.unit}
    moment = datetime.fromtimestamp(when, UTC).isoformat()
    detail = f"{name} at {moment} is {value!r} {kind.unit} here but {other}: kept the first, this one quarantined"
    return Rejection(Reason.CONFLICTING_VALUE, detail, record)


def copies_in_batch(
    sensor_ids: npt.NDArray[np.int32], time_us: npt.NDArray[np.int64], values: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """(keep, conflicting), masks of shape ``(n,)``: the first row of each (sensor, time) key is kept;
    a later row of the key is a harmless copy when its value equals the first's, a conflict otherwise."""
    n = len(sensor_ids)
    keep = np.ones(n, dtype=bool)
    conflicting = np.zeros(n, dtype=bool)
    if n < 2:
        return keep, conflicting
    order = np.lexsort((np.arange(n), time_us, sensor_ids))
    same_key = (np.diff(sensor_ids[order]) == 0) & (np.diff(time_us[order]) == 0)
    first = np.concatenate(([True], ~same_key))  # in sorted order: the row opens its key's group
    group_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    later = ~first
    keep[order[later]] = False
    differs = values[order] != values[order][group_start]
    conflicting[order[later & differs]] = True
    return keep, conflicting
