"""What the device reads from the server (remote configs, receipts) never raises anything but ProtocolError."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from edge import protocol
from edge.receipts import decode_receipt

json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
)
payloads = st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode())


@settings(max_examples=150, deadline=None)
@given(payloads)
def test_the_device_decoders_refuse_anything_with_protocol_error(payload: bytes) -> None:
    for decode in (decode_receipt, protocol.RemoteConfig.decode):
        try:
            decode(payload)
        except protocol.ProtocolError:
            pass
