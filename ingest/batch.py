"""Turn decoded messages into one batch of rows and quarantine entries.

Pure: device and sensor lookups are passed in as mappings, so this is tested without a
database. Duplicates across messages of one batch (a redelivered message next to its
original) are removed here so the fast COPY path stays available.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

import numpy as np

from edge import protocol
from ingest.quality import flag_batch
from ingest.validation import DecodedMessage, Rejection, unknown_device
from storage.pgcopy import unix_seconds_to_pg_micros
from storage.writer import QuarantineRow, ReadingRows

KIND_ORDER: list[str] = list(protocol.METRIC_KINDS)


class Inbound(NamedTuple):
    """One MQTT message as received; ``received_at`` in seconds since the epoch.

    A NamedTuple, not a dataclass: one is built per message on the network thread.
    """

    topic: str
    payload: bytes
    received_at: float


@dataclass
class PreparedBatch:
    rows: ReadingRows
    quarantine: list[QuarantineRow]
    quarantined_by_reason: Counter[str] = field(default_factory=Counter)
    duplicates_in_batch: int = 0
    # device -> (newest reading time by the device's clock, when its message arrived by ours), Unix s
    arrivals: dict[str, tuple[float, float]] = field(default_factory=dict)


def _quarantine_row(message: Inbound, device_id: str | None, rejection: Rejection, limit: int) -> QuarantineRow:
    if rejection.record is None:
        raw = message.payload
    else:
        raw = json.dumps(rejection.record, separators=(",", ":"), default=repr).encode()
    return QuarantineRow(
        received_at=datetime.fromtimestamp(message.received_at, UTC),
        topic=message.topic,
        device_id=device_id,
        reason=str(rejection.reason),
        detail=rejection.detail,
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
    reasons: Counter[str] = Counter()
    ids: list[int] = []
    times: list[float] = []
    values: list[float] = []
    kind_codes = {kind: code for code, kind in enumerate(KIND_ORDER)}
    kinds: list[int] = []
    arrivals: dict[str, tuple[float, float]] = {}
    for message, result in zip(messages, decoded, strict=True):
        device_id = result.device_id
        rejections = list(result.rejections)
        if result.sensors and device_id is not None:
            if known_devices.get(device_id, False):
                ids += [sensor_ids[(device_id, name)] for name in result.sensors]
                kinds += [kind_codes[name.partition(".")[0]] for name in result.sensors]
                times += result.times
                values += result.values
                newest, arrived = arrivals.get(device_id, (-np.inf, -np.inf))
                arrivals[device_id] = (max(newest, *result.times), max(arrived, message.received_at))
            else:
                rejections = [unknown_device(device_id)]
        for rejection in rejections:
            reasons[rejection.reason] += 1
            quarantine.append(_quarantine_row(message, device_id, rejection, quarantine_payload_bytes))

    sensor_array = np.asarray(ids, dtype=np.int32)
    time_us = unix_seconds_to_pg_micros(np.asarray(times, dtype=np.float64))
    value_array = np.asarray(values, dtype=np.float64)
    kind_array = np.asarray(kinds, dtype=np.int8)
    keep = _first_occurrences(sensor_array, time_us)
    duplicates = len(sensor_array) - int(keep.sum())
    if duplicates:
        sensor_array, time_us, value_array, kind_array = (
            sensor_array[keep],
            time_us[keep],
            value_array[keep],
            kind_array[keep],
        )
    rows = ReadingRows(sensor_array, time_us, value_array, flag_batch(kind_array, value_array, KIND_ORDER))
    return PreparedBatch(rows, quarantine, reasons, duplicates, arrivals)


def _first_occurrences(sensor_ids: np.ndarray, time_us: np.ndarray) -> np.ndarray:
    """Mask keeping the first row of each (sensor, time) key, in original order."""
    if len(sensor_ids) < 2:
        return np.ones(len(sensor_ids), dtype=bool)
    order = np.lexsort((np.arange(len(sensor_ids)), time_us, sensor_ids))
    same = (np.diff(sensor_ids[order]) == 0) & (np.diff(time_us[order]) == 0)
    keep = np.ones(len(sensor_ids), dtype=bool)
    keep[order[1:][same]] = False
    return keep
