"""The ingestor's last line of defence: a decoder that fails on one message costs that message only."""

from __future__ import annotations

import time

from edge import protocol
from ingest.batch import Inbound
from ingest.inbox import Delivery
from ingest.service import Ingestor
from ingest.validation import DecodedMessage, Reason, decode_message
from runtime.settings import IngestSettings, Settings, ValidationSettings


def _failing_on_poison(topic: str, payload: bytes, now: float, limits: ValidationSettings) -> DecodedMessage:
    if payload == b"poison":
        raise ZeroDivisionError("a decoder bug")
    return decode_message(topic, payload, now, limits)


def test_a_decoder_failure_quarantines_that_message_and_decodes_the_rest() -> None:
    settings = Settings(database_url="postgresql://nobody@127.0.0.1:1/none", ingest=IngestSettings(metrics_port=0))
    ingestor = Ingestor(settings, decode=_failing_on_poison)  # nothing connects until run()
    now = time.time()
    good = protocol.encode_pack("dev-01", [protocol.Reading("rainfall", now, 1.0, "mm")])
    topic = protocol.readings_topic("dev-01")
    deliveries = [Delivery(Inbound(topic, payload, now), mid, 1, 1) for mid, payload in enumerate([b"poison", good])]
    batch = ingestor._decode(deliveries)
    poisoned, decoded = batch.decoded
    assert [r.reason for r in poisoned.rejections] == [Reason.DECODE_ERROR]
    assert "ZeroDivisionError: a decoder bug" in poisoned.rejections[0].detail and poisoned.device_id == "dev-01"
    assert decoded.sensors == ["rainfall"] and batch.packs == {0, 1}
