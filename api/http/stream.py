"""The live stream's hub in one API process: LISTEN for new events, read them once, fan them out.

Every API copy runs one hub. A commit that writes events notifies ``urbanpulse_events``; the hub
reads the new rows in id order (``api.queries.events``), builds each event's JSON once and offers
it to every connected client's queue. Queues are bounded: a client that falls behind by
``client_queue`` events is dropped (its stream ends) rather than slowing the others or growing
memory, and its browser reconnects with ``Last-Event-ID``, which ``stream`` answers from the
database: every missed event once, in order, then the live ones. A poll every few seconds
covers a lost notification or a reconnecting LISTEN connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio
import psycopg
from fastapi.sse import KEEPALIVE_COMMENT, format_sse_event
from psycopg_pool import ConnectionPool

from api.http.metrics import ApiMetrics
from api.queries import events as stored
from api.queries.events import Event
from api.queries.sites import StatusRules
from api.schemas.events import EventType

log = logging.getLogger(__name__)
CHANNEL = "urbanpulse_events"
BATCH = 500
POLL_S = 5.0
SWEEP_EVERY_S = 3600.0
KEEPALIVE_S = 15.0  # a comment after this long without events keeps proxies from closing the stream


@dataclass(frozen=True)
class Frame:
    """An event as it goes on the wire, encoded once for every client that gets it."""

    event_id: int
    type: EventType
    wire: bytes

    @classmethod
    def of(cls, event: Event) -> Frame:
        return cls(event.event_id, event.type,
                   format_sse_event(data_str=event.data, event=event.type.value, id=str(event.event_id)))  # fmt: skip


class Subscriber:
    """One client's bounded queue; ``dropped`` once it overflowed (its stream then ends)."""

    def __init__(self, types: frozenset[EventType], capacity: int, after: int = 0) -> None:
        self.types = types
        self.queue: asyncio.Queue[Frame | None] = asyncio.Queue(capacity)
        self.dropped = False
        self.after = after  # the last event id the client has (or, new, the hub's position when it came)

    def offer(self, event: Frame | None) -> bool:
        """Queue ``event`` (None: the hub is stopping); False when this client just overflowed."""
        if self.dropped or (event is not None and event.type not in self.types):
            return True
        try:
            self.queue.put_nowait(event)
            return True
        except asyncio.QueueFull:
            self.dropped = True
            return False


class EventHub:
    def __init__(self, conninfo: str, pool: ConnectionPool, rules: StatusRules, keep: timedelta, capacity: int,
                 metrics: ApiMetrics, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 on_change: Callable[[], None] = lambda: None) -> None:  # fmt: skip
        self._conninfo, self._pool, self._rules, self._keep = conninfo, pool, rules, keep
        self._capacity, self._metrics, self._clock, self._on_change = capacity, metrics, clock, on_change
        self._subscribers: set[Subscriber] = set()
        self.position = 0  # the newest event id offered to subscribers
        self._task: asyncio.Task[None] | None = None
        self._next_sweep = 0.0

    # ---- the hub's own loop ------------------------------------------------------------
    async def start(self) -> None:
        self.position = await anyio.to_thread.run_sync(self._newest)
        self._task = asyncio.create_task(self._run(), name="event-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for subscriber in list(self._subscribers):
            subscriber.dropped = False
            try:
                subscriber.queue.put_nowait(None)
            except asyncio.QueueFull:
                subscriber.dropped = True

    async def _run(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    await self._catch_up()
                    while True:
                        async for _ in conn.notifies(timeout=POLL_S, stop_after=1):
                            pass
                        await self._catch_up()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - the database away, a bug in one batch: log, retry
                log.warning("live-stream hub: %s; reconnecting in %.0f s", error, POLL_S)
                await asyncio.sleep(POLL_S)

    async def _catch_up(self) -> None:
        while True:
            batch = await anyio.to_thread.run_sync(self._read, self.position, None)
            if batch:
                self._on_change()  # the map's rendered answer is out of date
            for event in batch:
                self._publish(Frame.of(event))
            if batch:
                self.position = max(self.position, batch[-1].event_id)
            if len(batch) < BATCH:
                break
        await self._maybe_sweep()

    def _publish(self, event: Frame) -> None:
        self._metrics.events.inc()
        for subscriber in list(self._subscribers):
            if not subscriber.offer(event):
                self._subscribers.discard(subscriber)  # also one whose response never started streaming
                self._metrics.stream_clients.set(len(self._subscribers))
                self._metrics.stream_dropped.inc()
                log.info("live-stream client fell %d events behind: dropped (it resumes with Last-Event-ID)",
                         self._capacity)  # fmt: skip

    async def _maybe_sweep(self) -> None:
        now = asyncio.get_running_loop().time()
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_EVERY_S
            swept = await anyio.to_thread.run_sync(self._sweep)
            if swept:
                log.info("live-stream events older than %s removed: %d", self._keep, swept)

    # ---- database work, in worker threads ----------------------------------------------
    def _newest(self) -> int:
        with self._pool.connection() as conn:
            return stored.newest_event_id(conn)

    def _read(self, after: int, until: int | None) -> list[Event]:
        with self._pool.connection() as conn:
            rows = stored.events_after(conn, after, until, BATCH)
            return stored.materialise(conn, rows, self._rules, self._clock())

    def _sweep(self) -> int:
        with self._pool.connection() as conn:
            return stored.sweep(conn, self._keep, self._clock())

    # ---- one client's stream -------------------------------------------------------------
    def subscribe(self, after: int | None, types: frozenset[EventType]) -> Subscriber:
        """A client's place in the stream, taken before its response starts: a new client (``after``
        None) gets every event after the hub's position now, even one committed while its response
        headers are on their way."""
        subscriber = Subscriber(types, self._capacity, self.position if after is None else after)
        self._subscribers.add(subscriber)
        self._metrics.stream_clients.set(len(self._subscribers))
        return subscriber

    async def stream(self, subscriber: Subscriber) -> AsyncIterator[bytes]:
        """SSE frames of the events after ``subscriber.after`` of its types, each once and in id order,
        with a keep-alive comment after ``KEEPALIVE_S`` of silence.

        Subscribed first, it replays the stored events up to the hub's position, then yields what the
        hub offers, skipping ids already sent: nothing falls between the two.
        """
        types = subscriber.types
        try:
            last = subscriber.after
            while last < self.position:  # the backlog the client missed
                batch = await anyio.to_thread.run_sync(self._read, last, self.position)
                if not batch:
                    break
                for event in batch:
                    if event.type in types:
                        yield Frame.of(event).wire
                last = batch[-1].event_id
            while not subscriber.dropped:
                try:
                    offered = await asyncio.wait_for(subscriber.queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield KEEPALIVE_COMMENT
                    continue
                if offered is None or subscriber.dropped:
                    return
                if offered.event_id > last:
                    last = offered.event_id
                    yield offered.wire
        finally:
            self._subscribers.discard(subscriber)
            self._metrics.stream_clients.set(len(self._subscribers))
