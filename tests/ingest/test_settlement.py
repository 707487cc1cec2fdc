"""Each message's outcome and the receipts that tell its device (pure)."""

from __future__ import annotations

from edge import protocol
from edge.receipts import Settlement, decode_receipt
from ingest.batch import Inbound
from ingest.settlement import receipts, settle


def test_outcomes_follow_what_was_stored_and_quarantined() -> None:
    accepted = [3, 3, 0, 2, 2]
    quarantined = [(1, "bad_value"), (2, "not_json"), (3, "conflicting_value"), (3, "conflicting_value"),
                   (4, "conflicting_value")]  # fmt: skip
    assert settle(accepted, quarantined) == [
        Settlement.STORED,  # all three in the table (some may have been already)
        Settlement.PARTIAL,  # three stored, one record quarantined
        Settlement.QUARANTINED,  # nothing readable
        Settlement.QUARANTINED,  # both readings conflicted with stored values
        Settlement.PARTIAL,  # one of two conflicted
    ]


def _message(device: str, pack_id: bytes | None) -> Inbound:
    return Inbound(protocol.readings_topic(device), b"[]", 0.0, pack_id)


def test_receipts_go_to_each_device_own_topic_for_the_packs_that_asked() -> None:
    messages = [_message("dev-01", b"\x01"), _message("dev-01", b"\x02"), _message("dev-02", b"\x03"),
                _message("dev-02", None), _message("dev-03", b"\x04" * 33)]  # fmt: skip
    devices = ["dev-01", "dev-01", "dev-02", "dev-02", "dev-03"]
    outcomes = {0: Settlement.STORED, 1: Settlement.QUARANTINED, 2: Settlement.PARTIAL, 3: Settlement.STORED,
                4: Settlement.STORED}  # fmt: skip
    sent = dict(receipts(messages, devices, outcomes))
    assert set(sent) == {protocol.receipts_topic("dev-01"), protocol.receipts_topic("dev-02")}  # no id, or too long
    assert decode_receipt(sent[protocol.receipts_topic("dev-01")]) == {b"\x01": Settlement.STORED,
                                                                       b"\x02": Settlement.QUARANTINED}  # fmt: skip
    assert decode_receipt(sent[protocol.receipts_topic("dev-02")]) == {b"\x03": Settlement.PARTIAL}
