"""Receipts: the server tells a device which of its packs are durably settled (part of the wire contract).

A PUBACK only says the broker holds a message, and a broker can lose what it holds (a crash
before its next save, a session that expires with messages queued in it). So an UrbanPulse
device keeps a pack until the *server* says it is done with it. Every readings pack carries two
MQTT v5 properties: Correlation Data, an id the device chooses (at most ``MAX_ID_BYTES``), and
Response Topic, the device's receipts topic. After the database transaction holding the pack's
readings and quarantine entries has committed, the ingestor publishes on
``urbanpulse/v1/devices/{device_id}/receipts`` a JSON object grouping the ids it settled by
outcome, each id in hex::

    {"stored": ["9f2c01d3a4b5c6d7"], "partial": ["..."], "quarantined": ["..."]}

Every outcome ends the pack's life on the device: a refused pack is in the server's
quarantine and sending it again would only put it there again. Standard library only.
"""

from __future__ import annotations

import enum
import json
import secrets
from collections.abc import Mapping

from edge import safejson
from edge.protocol import ProtocolError

MAX_ID_BYTES = 32  # a longer Correlation Data gets no receipt
PACK_ID_BYTES = 8  # what UrbanPulse devices use: random, so ids never repeat across restarts
MAX_RECEIPT_IDS = 100_000  # far above what one ingest batch settles for one device


class Settlement(enum.StrEnum):
    """What became of a pack. The first three come from the server; ``REFUSED`` only from the broker."""

    STORED = "stored"  # every reading is in the database (a resent pack's readings may have been already)
    PARTIAL = "partial"  # some records were quarantined with a reason, the rest stored
    QUARANTINED = "quarantined"  # nothing stored: the pack, or each of its records, is in the quarantine
    REFUSED = "refused"  # the broker refused the publish for good (PUBACK failure, e.g. not authorised)


SERVER_SETTLEMENTS = (Settlement.STORED, Settlement.PARTIAL, Settlement.QUARANTINED)


def new_pack_id() -> bytes:
    return secrets.token_bytes(PACK_ID_BYTES)


def encode_receipt(settled: Mapping[bytes, Settlement]) -> bytes:
    """The receipt for ``settled`` (pack id -> outcome, never REFUSED)."""
    groups: dict[str, list[str]] = {}
    for pack_id, outcome in settled.items():
        if outcome not in SERVER_SETTLEMENTS:
            raise ProtocolError(f"a receipt cannot say {outcome}")
        groups.setdefault(outcome.value, []).append(pack_id.hex())
    return json.dumps(groups, separators=(",", ":")).encode()


def decode_receipt(payload: bytes) -> dict[bytes, Settlement]:
    """Pack id -> outcome; raises ProtocolError (and nothing else) when the receipt is malformed."""
    try:
        data = safejson.loads(payload)
    except safejson.JsonRefused as error:
        raise ProtocolError(f"receipt is not JSON: {error}") from error
    if not isinstance(data, dict):
        raise ProtocolError("a receipt is a JSON object")
    settled: dict[bytes, Settlement] = {}
    for key, ids in data.items():
        try:
            outcome = Settlement(key)
        except ValueError:
            continue  # an outcome a later server may add: not ours to act on
        if outcome not in SERVER_SETTLEMENTS or not isinstance(ids, list) or len(ids) > MAX_RECEIPT_IDS:
            raise ProtocolError(f"receipt {outcome}: a list of at most {MAX_RECEIPT_IDS} hex ids expected")
        for text in ids:
            if not isinstance(text, str) or len(text) > 2 * MAX_ID_BYTES:
                raise ProtocolError(f"receipt id {safejson.describe(text)} is not a hex id")
            try:
                settled[bytes.fromhex(text)] = outcome
            except ValueError as error:
                raise ProtocolError(f"receipt id {safejson.describe(text)} is not hex") from error
    return settled
