"""monsoon-storm end to end: forecast-driven flood alerts fire before the water arrives, are
acknowledged, resolve when it recedes; notifications grouped by district reach a real webhook
receiver and the real broker; every CAP document validates against the OASIS CAP 1.2 XSD; the HTTP
API's map shows the flooded streets with their flood probabilities and its Atom feed lists every
CAP message.

The readings of the storm are written step by step as they would arrive, the forecast service
and the alert engine run on the simulated clock (every 5 minutes), and the outbox is delivered
by the real channels (apprise to the webhook, MQTT to Mosquitto).
"""

from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from alerts.delivery import AppriseChannel, Channel, MqttChannel, deliver_due
from alerts.engine import DEFAULT_RULES, ENGINE_LOCK_KEY, run_cycle
from alerts.rules import ContactTier, Grouping, load_rules
from alerts.store import acknowledge
from api.atom import ATOM_NS
from api.simulation.seed import write_history
from devstack.stack import site_details
from devstack.waiting import wait_until
from edge import protocol
from forecasting.service import ServiceState, issue_cycle
from ingest import broker_auth, provisioning
from runtime.backoff import Backoff
from runtime.settings import AlertsSettings, ForecastSettings
from simulators.city import simulate
from simulators.scenarios import scenario_config
from simulators.sites import city_sites
from tests.alerts.cap_schema import assert_valid_cap
from tests.alerts.conftest import Webhook
from tests.harness import REPO, ApiProcess, Stack

STEP = 300.0
HISTORY_DAYS = 15.0
WINDOW_H = (6.0, 12.0)  # hours into the scenario: the storm meets the evening high tide inside
CRASH_H = 8.5  # the engine is killed (kill -9, inside its cycle's transaction) while the streets flood
ENGINE_LOOP = """
import sys
import psycopg
from alerts.engine import run_cycle
from alerts.rules import RuleBook
from runtime.settings import AlertsSettings
book = RuleBook.model_validate_json(open(sys.argv[2]).read())
with psycopg.connect(sys.argv[1]) as conn:
    while True:
        run_cycle(conn, book, float(sys.argv[3]), AlertsSettings(), mqtt=True)
"""


def _crash_engine_mid_cycle(database_url: str, book_file: Path, at: float) -> None:
    """Run the engine in a child process and kill -9 it while it holds the cycle's lock (mid-transaction).
    The lock is told by its key: the API's event sweep and the events trigger take advisory locks too."""
    child = subprocess.Popen([sys.executable, "-c", ENGINE_LOOP, database_url, str(book_file), str(at)], cwd=REPO)
    high, low = ENGINE_LOCK_KEY >> 32, ENGINE_LOCK_KEY & 0xFFFF_FFFF  # a bigint key's two halves in pg_locks
    try:
        with psycopg.connect(database_url, autocommit=True) as watcher:
            wait_until(lambda: watcher.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
                "AND classid = %s::bigint::oid AND objid = %s::bigint::oid", (high, low)
            ).fetchone() == (1,), timeout=60, interval=0.001, what="the engine inside a cycle")  # fmt: skip
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)


def _cap_words(xml: str) -> tuple[str, str, str]:
    """(rule, urgency, certainty) of a CAP document's English info block."""
    ns = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
    info = ET.fromstring(xml).findall("cap:info", ns)[1]
    tags = ("eventCode/cap:value", "urgency", "certainty")
    words = [info.findtext(f"cap:{tag}", namespaces=ns) or "" for tag in tags]
    return words[0], words[1], words[2]


def _subscriber(stack: Stack, password: str, topics: list[str], got: list[mqtt.MQTTMessage]) -> mqtt.Client:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="test-alert-listener",
                         protocol=mqtt.MQTTv5)  # fmt: skip
    client.username_pw_set(broker_auth.ALERTS_ACCOUNT, password)
    subscribed = threading.Event()
    client.on_connect = lambda c, *a: c.subscribe([(t, 1) for t in topics])
    client.on_subscribe = lambda *a: subscribed.set()
    client.on_message = lambda _c, _u, message: got.append(message)
    client.connect("127.0.0.1", stack.broker.port)
    client.loop_start()
    assert subscribed.wait(60)
    return client


def _map_while_flooded(conn: psycopg.Connection, api: ApiProcess) -> dict[str, dict[str, Any]]:
    """The sites of streets flooding now, as the API's map query shows them (empty: none flooding yet)."""
    flooding = [
        r[0]
        for r in conn.execute("""SELECT DISTINCT device_id FROM alerts
                                               WHERE rule = 'street-flood' AND state IN ('firing', 'acknowledged')""")
    ]
    if not flooding:
        return {}
    with api.client() as public:
        features = public.get("/api/v1/sites").json()["features"]
    return {f["id"]: f for f in features if f["id"] in flooding}


@pytest.mark.slow
@pytest.mark.timeout(1200)  # a hang guard, not a speed limit: 72 forecast + alert cycles and an API on a shared machine
def test_monsoon_storm_warns_ahead_acknowledges_resolves_and_groups_by_district(stack: Stack, webhook: Webhook) -> None:
    sites = tuple(city_sites(24))
    config = scenario_config("monsoon-storm", sites, step_s=STEP)
    back = HISTORY_DAYS * 86_400
    sim = simulate(dataclasses.replace(config, start=config.start - back, duration_s=config.duration_s + back))
    first, last = (config.start + 3600 * h for h in WINDOW_H)
    password = stack.broker_only_account(broker_auth.ALERTS_ACCOUNT)
    with psycopg.connect(stack.database_url) as conn:
        for site in sites:
            provisioning.provision_device(conn, site.site_id, **site_details(site))
        conn.commit()
        write_history(conn, sim, until=first)
    default = load_rules(DEFAULT_RULES)
    book = default.model_copy(update={
        "contacts": [ContactTier(tier=1, targets=[webhook.url]),
                     ContactTier(tier=2, targets=[webhook.url], escalate_after_s=1800, mqtt=False)],
        "grouping": Grouping(wait_s=300, interval_s=600),
    })  # fmt: skip
    got: list[mqtt.MQTTMessage] = []
    listener = _subscriber(stack, password, ["urbanpulse/v1/alerts/#", "urbanpulse/v1/cap"], got)
    sim_now = [first]
    clock = lambda: datetime.fromtimestamp(sim_now[0], UTC)  # noqa: E731
    mqtt_channel = MqttChannel(protocol.MqttEndpoint("127.0.0.1", stack.broker.port, False,
                                                     broker_auth.ALERTS_ACCOUNT, password))  # fmt: skip
    channels: dict[str, Channel] = {"apprise": AppriseChannel(), "mqtt": mqtt_channel}
    settings = AlertsSettings()
    acknowledged: int | None = None
    book_file = stack.workdir / "rules.json"
    book_file.write_text(book.model_dump_json())
    crashed = False
    forecast_settings = ForecastSettings(history_days=HISTORY_DAYS)
    forecasts: ServiceState | None = None
    api = stack.start_api(env={"URBANPULSE_API__ANONYMOUS_READ": "true"})  # the operations centre's view
    mapped: dict[str, dict[str, Any]] = {}
    try:
        with psycopg.connect(stack.database_url) as conn:
            t = first
            while t <= last:
                sim_now[0] = t
                write_history(conn, sim, since=t - STEP, until=t + 1)
                # as the service does: fitted once, then updated with each new bucket
                _, forecasts = issue_cycle(conn, datetime.fromtimestamp(t, UTC), forecast_settings, forecasts)
                conn.commit()
                if not crashed and t >= config.start + 3600 * CRASH_H:
                    _crash_engine_mid_cycle(stack.database_url, book_file, t)
                    crashed = True
                run_cycle(conn, book, t, settings, mqtt=True)
                deliver_due(stack.database_url, channels, Backoff(), clock)
                if acknowledged is None:
                    row = conn.execute("SELECT alert_id FROM alerts WHERE rule = 'flood-forecast' AND state = "
                                       "'firing' ORDER BY alert_id LIMIT 1").fetchone()  # fmt: skip
                    if row is not None:
                        acknowledged = int(row[0])
                        acknowledge(conn, acknowledged, "duty-officer", "pumps dispatched", t)
                        conn.commit()
                if not mapped:
                    mapped = _map_while_flooded(conn, api)
                t += STEP
            alerts = conn.execute(
                """SELECT a.alert_id, a.rule, a.device_id, a.district, a.state, a.fired_at, a.closed_at
                   FROM alerts a ORDER BY alert_id"""
            ).fetchall()
            outbox = conn.execute("SELECT count(*), count(sent_at) FROM notification_outbox").fetchone()
            assert outbox is not None
            caps = conn.execute("SELECT msg_type, xml FROM cap_messages ORDER BY sent").fetchall()
            entered = {(int(r[0]), str(r[1])): int(r[2]) for r in conn.execute(
                "SELECT alert_id, to_state, count(*) FROM alert_events GROUP BY 1, 2")}  # fmt: skip
            audit = conn.execute(
                "SELECT to_state, actor, note FROM alert_events WHERE alert_id = %s ORDER BY at, recorded_at",
                (acknowledged,),
            ).fetchall()
        with api.client() as public:
            feed = ET.fromstring(public.get("/api/v1/cap/feed.atom").text)
            links = [e.find(f"{{{ATOM_NS}}}link") for e in feed.findall(f"{{{ATOM_NS}}}entry")]
            linked = [public.get(link.get("href", "")).text for link in links if link is not None]
    finally:
        mqtt_channel.close()
    floods = [e for e in sim.events if e.kind == "flood" and first < e.start < last]
    assert len(floods) >= 3
    by_rule: dict[str, dict[str, tuple[Any, ...]]] = {}
    for a in alerts:
        by_rule.setdefault(a[1], {}).setdefault(a[2], a)  # the first alert per rule and device

    # forecast-driven alerts fire before the observed threshold is crossed at the flooded sites: the
    # street-flood outlook's warning (within the hour) and watch (hours ahead), and the exceedance rule
    leads: dict[str, dict[str, float]] = {}
    for rule in ("flood-warning", "flood-watch", "flood-forecast"):
        for event in floods:
            warned = by_rule.get(rule, {}).get(event.site_id)
            if warned is not None and warned[5] is not None:
                leads.setdefault(rule, {})[event.site_id] = (event.start - warned[5].timestamp()) / 60
        print(f"{rule} lead times (min) at {len(floods)} flooded streets: {leads.get(rule)}")
    ahead = {site: lead for site, lead in leads.get("flood-warning", {}).items() if lead > 0}
    assert len(ahead) >= len(floods) // 2, leads
    assert sum(lead > 0 for lead in leads.get("flood-watch", {}).values()) >= len(floods) // 2, leads
    observed = by_rule.get("street-flood", {})
    assert {e.site_id for e in floods} <= set(observed), "every flood is also seen as it happens"

    # no sensor is faulty in this scenario: a storm and a flood must not look like broken sensors
    health = sorted({(a[1], a[2]) for a in alerts if a[1].startswith("sensor-") and a[5] is not None})
    print(f"health alarms during the storm: {health}")
    assert health == []

    # acknowledged, and resolved after the water receded: the audit trail tells it all
    assert acknowledged is not None
    states = [(s, actor) for s, actor, _ in audit]
    assert ("acknowledged", "duty-officer") in states and states[-1][0] == "resolved", audit
    assert all(a[4] in ("resolved", "expired") for a in alerts if a[1] == "street-flood")

    # delivered, grouped by district: one message never mixes districts
    assert outbox[0] == outbox[1] > 0
    district_of = {int(a[0]): a[3] for a in alerts}
    messages = webhook.messages()
    assert messages
    for message in messages:
        districts = {district_of[item["id"]] for item in message["alerts"]}
        assert len(districts) == 1 and message["group"].endswith(districts.pop() or "unplaced")
    told = [(m["tier"], item["id"], item["state"]) for m in messages for item in m["alerts"] if not item["reminder"]]
    # each state an alert entered is told once: twice only when it entered it twice (a flapping
    # alert reopened), never because the engine was killed between telling and recording it; a watch
    # that stands past `repeat_s` (4 h) is also reminded of, marked as such
    twice = sorted({t for t in told if told.count(t) > entered.get((t[1], t[2]), 0)})
    assert crashed and not twice, f"told more often than the alert entered that state: {twice}"
    assert wait_until(lambda: len(got) >= outbox[0] - len(messages), timeout=60, what="MQTT notifications")
    listener.loop_stop()

    # every CAP document is valid CAP 1.2; a flood alert is followed by its Cancel, naming it; a watch
    # is Expected/Possible, a warning Immediate/Likely
    assert caps and {m for m, _ in caps} >= {"Alert", "Cancel"}
    for _, xml in caps:
        assert_valid_cap(xml)
    tiers = {rule: (urgency, certainty) for _, xml in caps if "<msgType>Alert" in xml
             for rule, urgency, certainty in [_cap_words(xml)] if rule in ("flood-watch", "flood-warning")}  # fmt: skip
    assert tiers == {"flood-watch": ("Expected", "Possible"), "flood-warning": ("Immediate", "Likely")}, tiers
    on_broker = [m for m in got if m.topic == "urbanpulse/v1/cap"]
    assert len(on_broker) == len(caps)
    json.dumps(leads)  # the figures the closing note quotes

    # the map showed the flooded streets as they flooded, with their flood probabilities
    assert mapped, "the sites endpoint was read while streets were flooded"
    for device_id, feature in mapped.items():
        assert feature["properties"]["status"] == "alarm", (device_id, feature["properties"])
    assert any((f["properties"]["max_exceed_probability_3h"] or 0) >= 0.5 for f in mapped.values())
    # the public feed lists every CAP message, each linking the very document stored
    assert sorted(linked) == sorted(xml for _, xml in caps)
