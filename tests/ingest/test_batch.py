from __future__ import annotations

import json

import numpy as np

from edge import protocol
from ingest.batch import Inbound, prepare_batch
from ingest.validation import decode_message
from runtime.settings import ValidationSettings
from storage.pgcopy import PG_EPOCH_UNIX_S
from storage.qc import QcFlag

NOW = 1_800_000_000.0


def _message(device: str, readings: list[protocol.Reading]) -> Inbound:
    return Inbound(protocol.readings_topic(device), protocol.encode_pack(device, readings), NOW)


def test_batch_rows_flags_dedup_and_unknown_devices() -> None:
    water = protocol.Reading("water_level", NOW, 0.5, "m")
    messages = [
        _message("dev-01", [water, protocol.Reading("water_level", NOW + 1, 12.0, "m")]),
        _message("dev-01", [water]),  # a redelivery next to its original
        _message("dev-09", [water]),  # not in the registry
    ]
    decoded = [decode_message(m.topic, m.payload, m.received_at, ValidationSettings()) for m in messages]
    batch = prepare_batch(messages, decoded, {"dev-01": True, "dev-09": False}, {("dev-01", "water_level"): 42}, 64)
    assert batch.rows.sensor_ids.tolist() == [42, 42]
    assert batch.rows.time_us.tolist() == [int((NOW - PG_EPOCH_UNIX_S) * 1e6), int((NOW + 1 - PG_EPOCH_UNIX_S) * 1e6)]
    assert batch.rows.qc.tolist() == [QcFlag.PASS, QcFlag.SUSPECT]
    assert batch.duplicates_in_batch == 1
    assert batch.quarantined_by_reason == {"unknown_device": 1}
    (row,) = batch.quarantine
    assert row.device_id == "dev-09" and not row.record_scope and len(row.payload) == 64
    assert row.payload_bytes == len(messages[2].payload)


def test_record_quarantine_keeps_the_offending_record() -> None:
    payload = json.dumps([{"bn": "dev-01/", "bt": NOW, "n": "rainfall", "u": "K", "v": 3}]).encode()
    message = Inbound(protocol.readings_topic("dev-01"), payload, NOW)
    decoded = [decode_message(message.topic, payload, NOW, ValidationSettings())]
    batch = prepare_batch([message], decoded, {}, {}, 1024)
    assert len(batch.rows) == 0 and batch.rows.qc.dtype == np.int16
    assert batch.quarantine[0].record_scope and json.loads(batch.quarantine[0].payload)["u"] == "K"
