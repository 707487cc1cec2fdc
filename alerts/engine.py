"""``urbanpulse alerts run``: evaluate every rule on new readings and forecasts, then tell people.

A cycle, in one transaction under an advisory lock (one evaluator at a time, however many
copies run; the others wait their turn): read the inputs as of ``now``, evaluate every rule over
all its subjects at once (``alerts.evaluate``), advance each rule's alerts (``alerts.lifecycle``),
write QC flags, plan notifications into the outbox (``alerts.notify``), commit. Then the outbox
is delivered (``alerts.delivery``). Nothing lives only in memory: a restart - even kill -9 in the
middle of a cycle - resumes from the database, re-notifying nothing and forgetting nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from alerts import notify, store
from alerts.delivery import Channel, deliver_due
from alerts.errors import RulesError
from alerts.evaluate import evaluate
from alerts.observations import load_subjects, read_inputs
from alerts.rules import RuleBook, load_rules, parse_rules
from runtime.backoff import Backoff
from runtime.settings import AlertsSettings

log = logging.getLogger(__name__)
ENGINE_LOCK_KEY = 0x616C_6572_7473  # "alerts": every copy of the engine uses this key
DEFAULT_RULES = Path(__file__).with_name("default_rules.toml")


@dataclass(frozen=True)
class CycleResult:
    at: datetime
    rules: int
    transitions: int
    open_alerts: int
    qc_flags: int
    messages: int
    cap_documents: int
    seconds: float


def run_cycle(conn: psycopg.Connection, book: RuleBook, now: float, settings: AlertsSettings,
              mqtt: bool = False) -> CycleResult:  # fmt: skip
    """One evaluation at ``now`` (Unix s), committed as a whole."""
    began = time.perf_counter()
    now = float(int(now * 1000)) / 1000  # what timestamptz stores exactly: comparisons with stored times hold
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (ENGINE_LOCK_KEY,))
        subjects = load_subjects(conn)
        inputs = read_inputs(conn, subjects, now, settings.lookback_s, settings.max_readings,
                             book.heartbeats_needed(), book.hindcast_lead_s())  # fmt: skip
        judgements = evaluate(book, subjects, inputs)
        transitions = open_alerts = 0
        for judgement in judgements:
            result = store.step_rule(conn, judgement, subjects, now, book.flap_window_s)
            transitions += result.transitions
            open_alerts += result.open_alerts
        flags = store.write_qc_flags(conn, judgements, subjects, inputs.recent.times)
        told = notify.notify(conn, book, now, mqtt)
    return CycleResult(datetime.fromtimestamp(now, UTC), len(book.rules), transitions, open_alerts, flags,
                       told.messages, told.cap_documents, time.perf_counter() - began)  # fmt: skip


class RuleSource:
    """The rules file, re-read when its text changes; a bad edit is logged and the last good rules kept."""

    def __init__(self, path: Path | None) -> None:
        self.path = path or DEFAULT_RULES
        self.book = load_rules(self.path)  # at start-up a bad file is fatal: RulesError
        self._text = self._read()
        self.stored = False

    def _read(self) -> str | None:
        try:
            return self.path.read_text()
        except OSError:
            return None

    def current(self) -> RuleBook:
        text = self._read()  # a few kilobytes per cycle; file times can be too coarse to notice a quick edit
        if text is not None and text != self._text:
            self._text = text
            try:
                self.book = parse_rules(text, str(self.path))
                self.stored = False
                log.info("rules reloaded from %s (version %s, %d rules)", self.path, self.book.version,
                         len(self.book.rules))  # fmt: skip
            except RulesError as error:
                log.error("rules not reloaded, keeping version %s: %s", self.book.version, error)
        return self.book


def run_service(
    conninfo: str,
    rules: RuleSource,
    settings: AlertsSettings,
    channels: dict[str, Channel],
    stop: threading.Event,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    on_cycle: Callable[[CycleResult], None] | None = None,
) -> None:
    """Evaluate every ``settings.every_s`` until ``stop``; deliver the outbox after each cycle.

    ``clock`` is the wall clock in production and the simulated clock in the demo. A failed
    cycle (database away) is logged and retried next tick.
    """
    backoff = Backoff(settings.retry_initial_s, settings.retry_max_s)
    while not stop.is_set():
        try:
            with psycopg.connect(conninfo) as conn:
                book = rules.current()
                if not rules.stored:
                    with conn.transaction():
                        store.store_rules(conn, book)
                    rules.stored = True
                result = run_cycle(conn, book, clock().timestamp(), settings, mqtt="mqtt" in channels)
            if result.transitions or result.messages:
                log.info("alerts at %s: %d changes, %d open, %d messages, %d CAP, %d QC flags in %.2f s",
                         result.at.isoformat(), result.transitions, result.open_alerts, result.messages,
                         result.cap_documents, result.qc_flags, result.seconds)  # fmt: skip
            if on_cycle is not None:
                on_cycle(result)
            deliver_due(conninfo, channels, backoff, clock)
        except psycopg.Error as error:
            log.warning("alert cycle failed: %s; retrying next tick", error)
        stop.wait(settings.every_s)
