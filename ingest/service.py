"""The ingestor: MQTT inbox -> validate -> one transaction per batch -> acknowledge -> receipts.

At-least-once end to end: a message is acknowledged only after the transaction holding its
readings (or its quarantine entries) has committed, and then its device is told which packs
are settled (``ingest.settlement``), so the device can forget them. Transient failures are
retried with capped exponential backoff while the messages stay unacknowledged.

No message can stop the service: a failure while decoding, validating or storing one message
ends in that message's quarantine with a reason, and it is acknowledged like any other. Data the
database rejects as a batch is stored message by message, so only the culprit is quarantined.
What still ends the service: our own broker credentials refused, or the quarantine itself
refusing a write (a broken schema, not a client's doing) - then the messages stay with the broker.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import psycopg

from edge import protocol
from edge.receipts import Settlement
from ingest import batch as batching
from ingest import device_health, settlement
from ingest.health import HealthEvent, decode_health
from ingest.inbox import Delivery, MqttInbox
from ingest.metrics import IngestMetrics
from ingest.validation import DecodedMessage, Reason, Rejection, decode_message, unknown_device
from runtime.backoff import Backoff
from runtime.settings import Settings, ValidationSettings
from storage import latest, registry, retention, rollups
from storage.database import Database
from storage.errors import PermanentError, StorageError, TransientError
from storage.migrate import Engine, current_engine
from storage.writer import ReadingWriter, WritePath

log = logging.getLogger(__name__)
T = TypeVar("T")
Decoder = Callable[[str, bytes, float, ValidationSettings], DecodedMessage]


class Ingestor:
    def __init__(
        self,
        settings: Settings,
        metrics: IngestMetrics | None = None,
        write_path: WritePath = WritePath.ADAPTIVE,
        decode: Decoder = decode_message,
    ) -> None:
        self.settings = settings
        self._decode_pack = decode
        self.metrics = metrics or IngestMetrics()
        self._limits = settings.validation
        self._writer = ReadingWriter(write_path)
        self._db = Database(settings.database_url, prepare=self._writer.prepare)
        cfg = settings.ingest
        self._backoff = Backoff(cfg.retry_initial_s, cfg.retry_max_s)
        self.inbox = MqttInbox(
            settings.mqtt(),
            client_id=cfg.client_id,
            topic_filters=[
                protocol.subscription_filter(channel, cfg.share_group or None)
                for channel in protocol.DEVICE_CHANNELS_UP
            ],
            receive_maximum=cfg.receive_maximum,
            session_expiry_s=cfg.session_expiry_s,
        )
        self._known_devices: set[str] = set()
        self._sensor_ids: dict[tuple[str, str], int] = {}
        self._received = 0  # written by the collecting thread only
        self._settled = 0  # written by the writer thread only
        self._writer_failure: BaseException | None = None
        self._engine: Engine | None = None
        self._next_retention = 0.0
        self._next_rollups = 0.0

    # ---- lifecycle -------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Consume until ``stop`` is set, then leave cleanly. Raises BrokerAuthError if our credentials
        are refused.

        Two threads form a pipeline: this one collects and decodes batch N+1 (pure Python)
        while the writer thread stores and acknowledges batch N (mostly waiting on the
        database, with the GIL released). A hand-over queue of one bounds memory.
        """
        self.inbox.start()
        handoff: queue.Queue[_DecodedBatch] = queue.Queue(maxsize=1)
        finished = threading.Event()  # nothing more will be handed over
        halt = threading.Event()  # give up retrying: what is unsettled stays with the broker
        writer = threading.Thread(
            target=self._write_loop, args=(handoff, finished, halt), name="ingest-writer", daemon=True
        )
        writer.start()
        log.info("ingestor %s started", self.settings.ingest.client_id)
        try:
            while not stop.is_set():
                if self.inbox.fatal is not None:
                    raise self.inbox.fatal
                if self._writer_failure is not None:
                    raise self._writer_failure
                self.metrics.subscribed.set(1 if self.inbox.subscribed.is_set() else 0)
                deliveries = self._collect(stop)
                if deliveries:
                    self._hand_over(handoff, self._decode(deliveries), stop)
        finally:
            self._leave(handoff, writer, finished, halt)
            log.info("ingestor %s stopped", self.settings.ingest.client_id)

    def _leave(
        self,
        handoff: queue.Queue[_DecodedBatch],
        writer: threading.Thread,
        finished: threading.Event,
        halt: threading.Event,
    ) -> None:
        """Stop taking new messages, settle those already received (within ``drain_s``), end the session."""
        deadline = time.monotonic() + self.settings.ingest.drain_s
        give_up = threading.Timer(self.settings.ingest.drain_s, halt.set)
        give_up.daemon = True
        give_up.start()
        self.inbox.leave()
        self.metrics.subscribed.set(0)
        while writer.is_alive() and self._writer_failure is None and not halt.is_set():
            deliveries = self._collect(halt, wait=False)
            if not deliveries:
                break
            self._hand_over(handoff, self._decode(deliveries), halt)
        finished.set()
        writer.join(timeout=max(0.0, deadline - time.monotonic()) + 1.0)
        give_up.cancel()
        halt.set()
        writer.join(timeout=10)
        self.inbox.stop()
        self._db.close()

    def _hand_over(self, handoff: queue.Queue[_DecodedBatch], batch: _DecodedBatch, stop: threading.Event) -> None:
        while not stop.is_set() and self._writer_failure is None:
            try:
                handoff.put(batch, timeout=0.2)
                return
            except queue.Full:
                continue

    def _write_loop(
        self, handoff: queue.Queue[_DecodedBatch], finished: threading.Event, halt: threading.Event
    ) -> None:
        try:
            while True:
                try:
                    batch = handoff.get(timeout=0.2)
                except queue.Empty:
                    if finished.is_set() or halt.is_set():
                        return
                    self._maybe_run_storage_jobs()
                    continue
                self._process(batch, halt)
                self._maybe_run_storage_jobs()  # also under sustained load
        except BaseException as error:  # noqa: BLE001 - handed to the main thread, which raises it
            self._writer_failure = error

    # ---- batching ------------------------------------------------------------------
    def _collect(self, stop: threading.Event, wait: bool = True) -> list[Delivery]:
        """Up to max_batch_readings readings, waiting at most max_batch_delay_s after the first
        (not at all when ``wait`` is false)."""
        cfg = self.settings.ingest
        taken: list[Delivery] = []
        readings = 0
        deadline = None if wait else time.monotonic()
        while not stop.is_set():
            try:
                timeout = 0.2 if deadline is None else max(0.0, deadline - time.monotonic())
                delivery = self.inbox.deliveries.get(timeout=timeout) if timeout else self.inbox.deliveries.get_nowait()
            except queue.Empty:
                break
            taken.append(delivery)
            # A cheap estimate (records are about 30 bytes) keeps batch memory bounded.
            readings += max(1, len(delivery.message.payload) // 30)
            if deadline is None:
                deadline = time.monotonic() + cfg.max_batch_delay_s
            if readings >= cfg.max_batch_readings:
                break
        self._received += len(taken)
        self.metrics.unacked.set(self._received - self._settled)
        return taken

    def _decode(self, deliveries: list[Delivery]) -> _DecodedBatch:
        messages = [d.message for d in deliveries]
        decoded: list[DecodedMessage] = []
        events: dict[int, HealthEvent] = {}
        packs: set[int] = set()
        for index, message in enumerate(messages):
            try:
                device_id, channel = protocol.parse_device_topic(message.topic)
            except protocol.ProtocolError:
                device_id, channel = "", protocol.READINGS_CHANNEL  # decode_message explains the bad topic
            try:
                if channel == protocol.READINGS_CHANNEL:
                    packs.add(index)
                    decoded.append(self._decode_pack(message.topic, message.payload, message.received_at, self._limits))
                    continue
                outcome = decode_health(device_id, channel, message.payload, message.received_at)
            except Exception as error:  # noqa: BLE001 - a decoder bug must cost one message, not the service
                log.exception("decoding a message on %s failed; quarantined", message.topic)
                rejection = Rejection(Reason.DECODE_ERROR, f"{type(error).__name__}: {error}")
                decoded.append(DecodedMessage(device_id or None, rejections=[rejection]))
                continue
            if isinstance(outcome, Rejection):
                decoded.append(DecodedMessage(device_id, rejections=[outcome]))
            else:
                decoded.append(DecodedMessage(device_id))
                events[index] = outcome
        return _DecodedBatch(deliveries, messages, decoded, events, packs)

    def _process(self, batch: _DecodedBatch, stop: threading.Event) -> None:
        messages, decoded = batch.messages, batch.decoded
        try:
            try:
                outcomes = self._with_retry(lambda: self._store(messages, decoded, batch.events), stop, "store")
            except PermanentError as error:
                log.warning(
                    "batch of %d messages rejected by the database (%s); storing them one by one", len(messages), error
                )
                outcomes = []
                for index, (message, result) in enumerate(zip(messages, decoded, strict=True)):
                    event = batch.events.get(index)
                    outcomes.append(self._store_alone(message, result, {0: event} if event else {}, stop))
        except _Stopped:
            return  # left unacknowledged: the broker redelivers them to whoever consumes next
        acked = sum(self.inbox.ack(d) for d in batch.deliveries)
        self._settled += len(batch.deliveries)
        self.metrics.messages.inc(acked)
        self.metrics.unacked.set(self._received - self._settled)
        self._send_receipts(batch, outcomes)

    def _store_alone(
        self, message: batching.Inbound, result: DecodedMessage, events: dict[int, HealthEvent], stop: threading.Event
    ) -> Settlement:
        try:
            return self._with_retry(lambda: self._store([message], [result], events), stop, "store")[0]
        except PermanentError as error:
            rejected = DecodedMessage(result.device_id, rejections=[Rejection(Reason.STORAGE_REJECTED, str(error))])
            return self._with_retry(lambda: self._store([message], [rejected]), stop, "quarantine")[0]

    def _store(
        self,
        messages: list[batching.Inbound],
        decoded: list[DecodedMessage],
        events: dict[int, HealthEvent] | None = None,
    ) -> list[Settlement]:
        """Commit one batch; returns each message's outcome. Raises TransientError or PermanentError only."""
        try:
            return self._commit(messages, decoded, events or {})
        except StorageError:
            raise
        except Exception as error:  # noqa: BLE001 - e.g. a value the driver cannot adapt: that batch's fault
            log.exception("storing a batch of %d messages failed unexpectedly", len(messages))
            raise PermanentError(f"unexpected {type(error).__name__}: {error}") from error

    def _commit(
        self, messages: list[batching.Inbound], decoded: list[DecodedMessage], events: dict[int, HealthEvent]
    ) -> list[Settlement]:
        devices = {r.device_id for r in decoded if r.sensors and r.device_id is not None}
        devices |= {event.device_id for event in events.values()}
        known = self._db.run(lambda conn: self._check_devices(conn, devices))
        unknown = {i for i, event in events.items() if event.device_id not in known}
        if unknown:  # health from a device the registry does not know: quarantined like its readings
            decoded = [
                DecodedMessage(r.device_id, rejections=[unknown_device(r.device_id)]) if i in unknown else r
                for i, r in enumerate(decoded)
            ]
        known_events = [event for i, event in sorted(events.items()) if i not in unknown]
        wanted = {(r.device_id, s) for r in decoded if r.device_id in known for s in r.sensors}
        self._db.run(lambda conn: self._resolve_sensors(conn, wanted))
        limit = self.settings.ingest.quarantine_payload_bytes
        prepared = batching.prepare_batch(messages, decoded, {d: d in known for d in devices}, self._sensor_ids, limit)
        started = time.perf_counter()

        def write(conn: psycopg.Connection) -> tuple[int, int, list[tuple[int, str]]]:
            with conn.transaction():
                device_health.write_events(conn, known_events)
                device_health.write_arrivals(conn, prepared.arrivals)
                result = self._writer.write_readings(conn, prepared.rows)
                latest.write_latest(conn, prepared.rows.without(c.row for c in result.conflicts))  # stored value stays
                conflicts = batching.conflict_quarantine(prepared, messages, decoded, result.conflicts, limit)
                self._writer.write_quarantine(conn, prepared.quarantine + [row for _, row in conflicts])
            entries = [(i, q.reason) for i, q in zip(prepared.quarantine_messages, prepared.quarantine, strict=True)]
            return result.inserted, result.duplicates, entries + [(i, row.reason) for i, row in conflicts]

        inserted, duplicates, quarantined = self._db.run(write)
        self.metrics.commit_seconds.observe(time.perf_counter() - started)
        self.metrics.batch_readings.observe(len(prepared.rows))
        self.metrics.readings_stored.inc(inserted)
        self.metrics.readings_duplicate.inc(duplicates + prepared.duplicates_in_batch)
        by_reason: dict[str, int] = {}
        for _, reason in quarantined:
            by_reason[reason] = by_reason.get(reason, 0) + 1
        for reason, count in by_reason.items():
            self.metrics.quarantined.labels(reason=reason).inc(count)
        if quarantined:
            log.info("quarantined %d item(s): %s", len(quarantined), by_reason)
        return settlement.settle(prepared.accepted, quarantined)

    def _send_receipts(self, batch: _DecodedBatch, outcomes: list[Settlement]) -> None:
        asked = {i: outcomes[i] for i in batch.packs}
        device_ids = [result.device_id for result in batch.decoded]
        for topic, payload in settlement.receipts(batch.messages, device_ids, asked):
            self.metrics.receipts.inc(int(self.inbox.publish(topic, payload)))

    def _check_devices(self, conn: psycopg.Connection, devices: set[str]) -> set[str]:
        for device_id in devices - self._known_devices:
            if registry.device_exists(conn, device_id):
                self._known_devices.add(device_id)
        return devices & self._known_devices

    def _resolve_sensors(self, conn: psycopg.Connection, wanted: set[tuple[str, str]]) -> None:
        missing = wanted - self._sensor_ids.keys()
        if missing:
            with conn.transaction():
                self._sensor_ids.update(registry.register_sensors(conn, missing))

    # ---- failure handling ------------------------------------------------------------------
    def _with_retry(self, attempt: Callable[[], T], stop: threading.Event, stage: str) -> T:
        tries = 0
        while True:
            try:
                return attempt()
            except TransientError as error:
                if self.inbox.fatal is not None:
                    raise self.inbox.fatal from error
                tries += 1
                delay = self._backoff.delay(tries)
                self.metrics.retries.labels(stage=stage).inc()
                log.warning("%s failed (%s); retry %d in %.1f s", stage, error, tries, delay)
                if stop.wait(delay):
                    raise _Stopped from error

    def _maybe_run_storage_jobs(self) -> None:
        """Plain PostgreSQL's stand-ins for TimescaleDB's policies: retention and the rollups' refresh."""
        now = time.monotonic()
        rollups_due, retention_due = now >= self._next_rollups, now >= self._next_retention
        if not (rollups_due or retention_due):
            return
        cfg = self.settings.ingest  # each job waits its cadence even when this attempt fails
        if rollups_due:
            self._next_rollups = now + cfg.rollups_every_s
        if retention_due:
            self._next_retention = now + cfg.retention_every_s
        try:
            if self._engine is None:
                self._engine = self._db.run(current_engine)
            if self._engine != Engine.POSTGRES:
                self._next_retention = self._next_rollups = math.inf
                return
            if rollups_due:
                done = self._db.run(lambda conn: rollups.refresh_rollups(conn, datetime.now(UTC)))
                if done.materialized_to is not None:
                    self.metrics.rollups_materialized_to.set(done.materialized_to.timestamp())
            if retention_due:
                deleted = self._db.run(retention.apply_retention)
                if deleted:
                    log.info("retention removed %d old readings", deleted)
        except (TransientError, PermanentError, LookupError) as error:
            log.warning("storage job skipped: %s", error)


@dataclass(frozen=True)
class _DecodedBatch:
    deliveries: list[Delivery]
    messages: list[batching.Inbound]
    decoded: list[DecodedMessage]
    events: dict[int, HealthEvent]  # message index -> its status or heartbeat
    packs: set[int]  # indices of readings messages (the ones a receipt may answer)


class _Stopped(Exception):
    """Shutting down while a batch was still waiting to be stored."""
