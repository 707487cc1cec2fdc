"""What became of each message of a committed batch, and the receipts that tell the devices.

Pure: given what was accepted and quarantined per message, each readings pack is settled as
stored, partial or quarantined (``edge.receipts.Settlement``), and the packs that carried a
Correlation Data are grouped into one receipt per device, published on that device's own
receipts topic. Never on the Response Topic the message named: a device could name another
device's topic, and the broker's ACL lets each device read only its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from edge import protocol
from edge.receipts import MAX_ID_BYTES, Settlement, encode_receipt
from ingest.batch import Inbound
from ingest.validation import Reason


def settle(accepted: Sequence[int], quarantined: Sequence[tuple[int, str]]) -> list[Settlement]:
    """The outcome of every message: ``accepted[i]`` readings were taken from message ``i``;
    ``quarantined`` holds (message index, reason) for each of its quarantine entries."""
    entries = [0] * len(accepted)
    conflicts = [0] * len(accepted)
    for index, reason in quarantined:
        entries[index] += 1
        conflicts[index] += reason == Reason.CONFLICTING_VALUE
    outcomes = []
    for taken, quarantine, conflict in zip(accepted, entries, conflicts, strict=True):
        if not quarantine:
            outcomes.append(Settlement.STORED)
        elif taken - conflict > 0:
            outcomes.append(Settlement.PARTIAL)
        else:
            outcomes.append(Settlement.QUARANTINED)
    return outcomes


def receipts(
    messages: Sequence[Inbound], device_ids: Sequence[str | None], outcomes: Mapping[int, Settlement]
) -> list[tuple[str, bytes]]:
    """(topic, payload) per device for the messages in ``outcomes`` that asked for a receipt."""
    by_device: dict[str, dict[bytes, Settlement]] = {}
    for index, outcome in outcomes.items():
        pack_id, device_id = messages[index].correlation, device_ids[index]
        if pack_id and len(pack_id) <= MAX_ID_BYTES and device_id is not None:
            by_device.setdefault(device_id, {})[pack_id] = outcome
    return [(protocol.receipts_topic(device), encode_receipt(settled)) for device, settled in by_device.items()]
