"""The live stream across API copies: a change made through one copy reaches a client of another
at once, and a client that drops and resumes with Last-Event-ID gets every missed event once."""

from __future__ import annotations

import time
from collections.abc import Callable

from api.roles import Role
from tests.api.city import open_alert, seed_city
from tests.api.conftest import People
from tests.harness import EventStreamReader, Stack, StreamedEvent


def _is_alert(alert_id: int, state: str) -> Callable[[StreamedEvent], bool]:
    return lambda e: e.type == "alert" and e.data["alert_id"] == alert_id and e.data["state"] == state


def test_ack_on_one_copy_reaches_a_stream_on_another(stack: Stack, people: People) -> None:
    sites = seed_city(stack, sites=3, hours=1).sites
    first, second = stack.start_api(), stack.start_api()
    with second.login("viewer", people.viewer) as watcher_client, first.login("operator", people.operator) as op:
        stream = EventStreamReader(watcher_client)
        assert stream.status == 200
        with stack.connect() as conn:
            alert_id = open_alert(conn, sites[0])
        stream.wait_for(_is_alert(alert_id, "firing"))
        sent = time.monotonic()
        acked = op.post(f"/api/v1/alerts/{alert_id}/ack", json={"note": "pump truck on its way"})
        assert acked.status_code == 200, acked.text
        seen = stream.wait_for(_is_alert(alert_id, "acknowledged"))
        print(f"ack seen on the other copy's stream after {(time.monotonic() - sent) * 1000:.0f} ms")
        assert seen.data["acked_by"] == "operator" and seen.data["ack_note"] == "pump truck on its way"
        site = stream.wait_for(lambda e: e.type == "site" and e.event_id > seen.event_id)
        assert site.data["id"] == sites[0].site_id and site.data["properties"]["status"] == "alarm"
        assert site.data["properties"]["alerts"]["unacknowledged"] == 0
        ids = [e.event_id for e in stream.snapshot()]
        assert ids == sorted(set(ids)), "ids increase and never repeat"
        stream.close()


def test_a_client_that_reconnects_with_last_event_id_misses_nothing_and_sees_nothing_twice(
    stack: Stack, people: People
) -> None:
    sites = seed_city(stack, sites=4, hours=1).sites
    first, second = stack.start_api(), stack.start_api()
    with first.login("operator", people.operator) as op, second.login("viewer", people.viewer) as viewer:
        stream = EventStreamReader(viewer)
        with stack.connect() as conn:
            early = open_alert(conn, sites[0])
        last_seen = stream.wait_for(_is_alert(early, "firing"))
        stream.wait_for(lambda e: e.type == "site" and e.event_id > last_seen.event_id)
        resume_from = stream.snapshot()[-1].event_id
        stream.close()

        # while the client is away: changes through both copies and by the engine's hand
        with stack.connect() as conn:
            missed = [open_alert(conn, site) for site in sites[1:]]
        assert op.post(f"/api/v1/alerts/{early}/ack", json={"note": "seen"}).status_code == 200
        assert op.post(f"/api/v1/alerts/{missed[0]}/assign", json={"assignee": "operator"}).status_code == 200
        assert op.post("/api/v1/alerts/ack", json={"alert_ids": missed[1:]}).json()["acknowledged"] == missed[1:]
        with stack.connect() as conn:
            expected = [row[0] for row in conn.execute("SELECT event_id FROM events WHERE event_id > %s ORDER BY 1",
                                                       (resume_from,))]  # fmt: skip

        resumed = EventStreamReader(viewer, last_event_id=resume_from)
        resumed.wait_for(lambda e: e.event_id == expected[-1])
        with stack.connect() as conn:
            alert_id = open_alert(conn, sites[0], rule="flood-forecast", kind="forecast_exceedance")
        resumed.wait_for(_is_alert(alert_id, "firing"))  # and live events follow the replay
        got: list[StreamedEvent] = resumed.snapshot()
        replayed = [e.event_id for e in got if e.event_id <= expected[-1]]
        assert replayed == expected, "every missed event exactly once, in order"
        assert [e.event_id for e in got] == sorted({e.event_id for e in got})
        states = {(e.data["alert_id"], e.data["state"]) for e in got if e.type == "alert"}
        told = {(early, "acknowledged"), *((m, "firing") for m in missed), *((m, "acknowledged") for m in missed[1:])}
        assert told <= states
        assigned = [e for e in got if e.type == "alert" and e.data["alert_id"] == missed[0]]
        assert assigned[-1].data["assignee"] == "operator"
        resumed.close()


def test_anonymous_readers_stream_only_public_events_when_reading_is_open(stack: Stack, people: People) -> None:
    sites = seed_city(stack, sites=2, hours=1).sites
    closed = stack.start_api()
    with closed.client() as client:
        assert client.get("/api/v1/events").status_code == 401
    opened = stack.start_api(env={"URBANPULSE_API__ANONYMOUS_READ": "true"})
    with opened.client() as anonymous:
        stream = EventStreamReader(anonymous)
        with stack.connect() as conn:
            open_alert(conn, sites[1])
        stream.wait_for(lambda e: e.type == "site" and e.data["id"] == sites[1].site_id)
        assert {e.type for e in stream.snapshot()} <= {"site", "forecast"}
        stream.close()
    assert Role.VIEWER  # the closed copy refused the same stream without a login


def test_streams_hold_no_database_connection(stack: Stack, people: People) -> None:
    """More streams than the pool has connections: the API still answers everything else."""
    api = stack.start_api(env={"URBANPULSE_API__POOL_SIZE": "2"})
    with api.login("viewer", people.viewer) as viewer:
        streams = [EventStreamReader(viewer) for _ in range(6)]
        assert all(s.status == 200 for s in streams)
        assert viewer.get("/api/v1/alerts").status_code == 200  # a stream holding the pool would time this out
        for stream in streams:
            stream.close()
