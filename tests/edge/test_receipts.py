"""The receipt a server sends a device: encoding, and decoding that refuses anything odd with ProtocolError only."""

from __future__ import annotations

import pytest

from edge.protocol import ProtocolError
from edge.receipts import MAX_ID_BYTES, Settlement, decode_receipt, encode_receipt, new_pack_id


def test_a_receipt_round_trips_every_server_outcome() -> None:
    settled = {new_pack_id(): Settlement.STORED, new_pack_id(): Settlement.PARTIAL, b"\x00" * MAX_ID_BYTES:
               Settlement.QUARANTINED}  # fmt: skip
    assert decode_receipt(encode_receipt(settled)) == settled


def test_pack_ids_do_not_repeat() -> None:
    assert len({new_pack_id() for _ in range(10_000)}) == 10_000


def test_the_broker_only_outcome_is_never_written_or_read_in_a_receipt() -> None:
    with pytest.raises(ProtocolError):
        encode_receipt({b"a": Settlement.REFUSED})
    with pytest.raises(ProtocolError):
        decode_receipt(b'{"refused": ["61"]}')


@pytest.mark.parametrize(
    "payload",
    [b"", b"{", b"[]", b'{"stored": "61"}', b'{"stored": ["xyz"]}', b'{"stored": [7]}',
     b'{"stored": ["' + b"ab" * (MAX_ID_BYTES + 1) + b'"]}', b"[" * 100_000 + b"]" * 100_000, b"\xff"],
)  # fmt: skip
def test_malformed_receipts_raise_protocol_error_only(payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_receipt(payload)


def test_outcomes_a_later_server_may_add_are_ignored() -> None:
    assert decode_receipt(b'{"stored": ["0a"], "archived": ["0b"]}') == {b"\n": Settlement.STORED}
