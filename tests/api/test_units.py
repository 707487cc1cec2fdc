"""Pure parts of the API: bucket widths, the $filter grammar, the live stream's queues and ordering."""

from __future__ import annotations

import asyncio
import gzip
import threading
from datetime import UTC, datetime, timedelta

import pytest

from api.http.metrics import ApiMetrics
from api.http.rendered import RenderedCache
from api.http.stream import EventHub, Frame, Subscriber
from api.queries.events import Event
from api.queries.readings import bucket_seconds
from api.schemas.events import EventType
from api.sta.filter import Field, FieldType, FilterError, compile_filter
from devstack.waiting import wait_until

FIELDS = {"result": Field("r.value", FieldType.NUMBER), "phenomenonTime": Field("r.time", FieldType.TIME),
          "Datastream/id": Field("r.sensor_id", FieldType.NUMBER), "name": Field("d.name", FieldType.TEXT)}  # fmt: skip
T0 = datetime(2026, 12, 1, 0, 0, 7, tzinfo=UTC)


@pytest.mark.parametrize(("span", "points", "step"), [
    (timedelta(hours=24), 500, 300), (timedelta(days=30), 500, 7200), (timedelta(hours=1), 5000, 1),
    (timedelta(days=400), 2, None), (timedelta(minutes=10), 2, 600),
])  # fmt: skip
def test_buckets_cover_the_window_in_at_most_the_points_asked(span: timedelta, points: int, step: int | None) -> None:
    chosen = bucket_seconds(T0, T0 + span, points)
    assert chosen == step or step is None
    first = T0.timestamp() // chosen * chosen
    assert -(-((T0 + span).timestamp() - first) // chosen) <= points


def test_filter_literals_are_bound_never_spliced() -> None:
    compiled = compile_filter("name eq 'x''; DROP TABLE readings; --' or result gt 2", FIELDS)
    assert compiled.sql == "((d.name = %s) OR (r.value > %s))"
    assert compiled.params == ["x'; DROP TABLE readings; --", 2]
    window = compile_filter(
        "phenomenonTime ge 2026-12-01T00:00:00Z and not phenomenonTime lt 2026-12-01T07:00:00+07:00", FIELDS
    )
    assert window.params == [datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)]
    assert compile_filter("Datastream/id eq 5 and (result lt -1.5e2 or result eq null)", FIELDS).params == [5, -150.0]


@pytest.mark.parametrize(
    "text",
    [
        "result gt",
        "colour eq 1",
        "result eq 'x'",
        "phenomenonTime gt 5",
        "result",
        "result gt 1; DROP TABLE readings",
        "1 eq 1",
        "(result eq 1",
    ],
)
def test_bad_filters_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(FilterError, match=r"^\$filter: "):
        compile_filter(text, FIELDS)


def test_a_slow_client_is_dropped_at_its_queue_bound_and_others_keep_going() -> None:
    async def scenario() -> tuple[Subscriber, Subscriber]:
        slow, fast = Subscriber(frozenset(EventType), 3), Subscriber(frozenset({EventType.ALERT}), 10)
        events = [Frame.of(Event(i, EventType.ALERT if i % 2 else EventType.SITE, "{}")) for i in range(1, 9)]
        for event in events:
            assert fast.offer(event)
            slow.offer(event)
        return slow, fast

    slow, fast = asyncio.run(scenario())
    assert slow.dropped and slow.queue.qsize() == 3  # memory bounded: it holds 3 events, then is dropped
    assert not fast.dropped and fast.queue.qsize() == 4  # only the types it asked for


class _StoredEvents(EventHub):
    """The hub's ordering logic over a list for a table (pure logic: no database, no loop task)."""

    def __init__(self, stored: list[Event]) -> None:
        super().__init__("", None, None, timedelta(days=1), 10, ApiMetrics())  # type: ignore[arg-type]
        self.stored = stored

    def _read(self, after: int, until: int | None) -> list[Event]:
        return [e for e in self.stored if e.event_id > after and (until is None or e.event_id <= until)]


def test_a_new_client_gets_an_event_committed_while_its_response_was_starting() -> None:
    """The place in the stream is taken when the request is answered, not when the body starts: an
    event the hub reads in between reaches the client once (it used to be skipped)."""

    async def scenario() -> list[bytes]:
        hub = _StoredEvents([Event(i, EventType.ALERT, "{}") for i in (1, 2, 3)])
        hub.position = 2
        subscriber = hub.subscribe(None, frozenset(EventType))
        hub._publish(Frame.of(hub.stored[2]))  # event 3, read by the hub before the body starts
        hub.position = 3
        stream = hub.stream(subscriber)
        first = await anext(stream)
        subscriber.offer(None)  # the hub stopping
        rest = [frame async for frame in stream]
        return [first, *rest]

    frames = asyncio.run(scenario())
    assert len(frames) == 1 and b"id: 3" in frames[0]


def test_the_rendered_map_is_served_fresh_then_stale_while_one_refresh_runs_and_expires_on_change() -> None:
    now = [100.0]
    renders: list[str] = []
    gate = threading.Event()

    def render() -> str:
        renders.append("r")
        if len(renders) > 1:
            gate.wait(10)
        return f'{{"n": {len(renders)}}}'

    cache = RenderedCache(2.0, clock=lambda: now[0])
    first = cache.get("city", render)
    assert first.body == b'{"n": 1}' and gzip.decompress(first.gzipped) == first.body
    now[0] += 1.0
    assert cache.get("city", render) is first and len(renders) == 1  # fresh: no render
    now[0] += 1.5
    assert cache.get("city", render) is first and cache.get("city", render) is first  # stale, one refresh started
    gate.set()
    wait_until(lambda: cache.get("city", render).body == b'{"n": 2}', timeout=10, what="the refresh")
    assert len(renders) == 2
    cache.expire()  # an alert changed: the next request gets a refresh started at once
    cache.get("city", render)
    wait_until(lambda: len(renders) == 3, timeout=10, what="the refresh after a change")
