from __future__ import annotations

import json

import numpy as np

from edge import protocol
from ingest.batch import Inbound, clean_text, conflict_quarantine, copies_in_batch, prepare_batch, quarantine_row
from ingest.validation import Reason, Rejection, decode_message
from runtime.settings import ValidationSettings
from storage.pgcopy import PG_EPOCH_UNIX_S
from storage.qc import QcFlag
from storage.writer import Conflict

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


def test_a_copy_with_another_value_in_the_same_batch_is_a_conflict_not_a_duplicate() -> None:
    messages = [
        _message("dev-01", [protocol.Reading("rainfall", NOW, 1.0, "mm")]),
        _message("dev-01", [protocol.Reading("rainfall", NOW, 1.0, "mm")]),  # a resent copy
        _message(
            "dev-01", [protocol.Reading("rainfall", NOW, 4.0, "mm"), protocol.Reading("rainfall", NOW + 1, 2.0, "mm")]
        ),  # fmt: skip
    ]
    decoded = [decode_message(m.topic, m.payload, m.received_at, ValidationSettings()) for m in messages]
    batch = prepare_batch(messages, decoded, {"dev-01": True}, {("dev-01", "rainfall"): 5}, 1024)
    assert batch.rows.values.tolist() == [1.0, 2.0] and batch.row_messages.tolist() == [0, 2]
    assert batch.duplicates_in_batch == 1 and batch.quarantined_by_reason == {"conflicting_value": 1}
    assert batch.quarantine_messages == [2] and batch.accepted == [1, 1, 2]
    record = json.loads(batch.quarantine[0].payload)
    assert record == {"bn": "dev-01/", "n": "rainfall", "t": NOW, "v": 4.0, "u": "mm"}

    stored = conflict_quarantine(batch, messages, decoded, [Conflict(row=1, stored_value=2.5)], 1024)
    assert [(i, q.reason) for i, q in stored] == [(2, "conflicting_value")] and "2.5" in stored[0][1].detail


def test_copies_in_batch_keeps_the_first_of_each_key() -> None:
    keep, conflicting = copies_in_batch(
        np.array([1, 1, 2, 1, 1], dtype=np.int32),
        np.array([10, 10, 10, 10, 11], dtype=np.int64),
        np.array([5.0, 5.0, 7.0, 6.0, 1.0]),
    )
    assert keep.tolist() == [True, False, True, False, True]
    assert conflicting.tolist() == [False, False, False, True, False]


def test_quarantine_rows_are_storable_whatever_the_record_holds() -> None:
    message = Inbound(protocol.readings_topic("dev-01"), b"[raw]", NOW)
    deep: list[object] = []
    for _ in range(5000):
        deep = [deep]
    row = quarantine_row(message, "dev-01", Rejection(Reason.BAD_RECORD, "bad \x00 \ud800", deep), 64)
    assert row.payload == b"[raw]"  # too deep to render: the raw message is kept instead
    text = clean_text("nul \x00 and a lone \ud800 surrogate")
    assert "\x00" not in text and text.encode("utf-8")
