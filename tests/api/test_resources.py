"""The resources over real HTTP on a seeded city: sites, downsampled readings, the alert workflow with
its audit trail, silences, devices with remote configuration, areas and open data."""

from __future__ import annotations

import csv
import io
import threading
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from alerts.cap import CapAlert, document, identifier
from alerts.rules import Severity
from api.atom import ATOM_NS
from edge import protocol
from simulators.fleet import DeviceCredential
from tests.api.city import open_alert, seed_city, sensor_id
from tests.api.conftest import People
from tests.harness import ApiProcess, Stack


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


def test_sites_show_each_sensors_newest_value_device_health_and_alerts(
    stack: Stack, api: ApiProcess, people: People
) -> None:
    city = seed_city(stack, sites=6, hours=2)
    sites, sim = city.sites, city.sim
    with stack.connect() as conn:
        alarm = open_alert(conn, sites[0], severity="severe")
        open_alert(conn, sites[1], rule="sensor-stale", kind="stale", severity="minor", state="pending")
    with api.login("viewer", people.viewer) as viewer:
        answer = viewer.get("/api/v1/sites")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/geo+json")
        features = {f["id"]: f for f in answer.json()["features"]}
        assert set(features) == {s.site_id for s in sites}
        for ref in sim.sensors:
            row = np.flatnonzero(np.isfinite(sim.observed[ref.index]))[-1]
            shown = next(s for s in features[ref.device_id]["properties"]["sensors"] if s["kind"] == ref.kind)
            assert shown["value"] == sim.observed[ref.index, row] and shown["qc"] == 1
            assert shown["time"] == datetime.fromtimestamp(sim.times[row], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        first = features[sites[0].site_id]
        assert first["geometry"] == {"type": "Point", "coordinates": [sites[0].lon, sites[0].lat]}
        assert first["properties"]["status"] == "alarm" and first["properties"]["alerts"]["unacknowledged"] == 1
        assert first["properties"]["alerts"]["by_severity"]["severe"] == 1
        assert features[sites[1].site_id]["properties"]["status"] == "watch"
        assert {f["properties"]["status"] for f in features.values()} <= {"alarm", "watch", "normal"}
        assert all(f["properties"]["device"]["state"] == "online" for f in features.values())
        listed = viewer.get("/api/v1/map/sites")  # the dashboard map's compact list of the same state
        assert listed.status_code == 200 and listed.headers["content-type"].startswith("application/json")
        fields = listed.json()["fields"]
        assert fields == ["id", "status", "name", "district", "ward", "lon", "lat"]
        rows = {row[0]: dict(zip(fields, row, strict=True)) for row in listed.json()["sites"]}
        assert [row[0] for row in listed.json()["sites"]] == sorted(features)
        for site_id, feature in features.items():
            p = feature["properties"]
            lon, lat = feature["geometry"]["coordinates"]
            assert rows[site_id] == {"id": site_id, "status": p["status"], "name": p["name"],
                                     "district": p["district"], "ward": p["ward"], "lon": lon, "lat": lat}  # fmt: skip
        assert rows[sites[0].site_id]["status"] == "alarm" and rows[sites[1].site_id]["status"] == "watch"
        district = sites[0].district
        only = viewer.get("/api/v1/sites", params={"district": district}).json()["features"]
        assert {f["id"] for f in only} == {s.site_id for s in sites if s.district == district}
        assert viewer.get(f"/api/v1/sites/{sites[0].site_id}").json()["id"] == sites[0].site_id
        assert viewer.get("/api/v1/sites/no-such-site").json()["error"]["code"] == "not_found"
        areas = viewer.get("/api/v1/areas").json()
        assert areas["city"]["sites"] == len(sites) and areas["city"]["open_alerts"] == 2
        assert sum(d["sites"] for d in areas["districts"]) == len(sites)
        west, south, east, north = areas["city"]["bbox"]
        assert west <= min(s.lon for s in sites) and north >= max(s.lat for s in sites)
        acked = viewer.post(f"/api/v1/alerts/{alarm}/ack", json={"note": "mine"})
        assert acked.status_code == 403 and acked.json()["error"]["code"] == "forbidden"


def test_readings_are_downsampled_in_the_database_with_worst_qc(stack: Stack, api: ApiProcess, people: People) -> None:
    sim = seed_city(stack, sites=2, hours=6, end=time.time() // 3600 * 3600).sim  # hour-aligned buckets
    ref = next(r for r in sim.sensors if r.kind == "water_level")
    with stack.connect() as conn:
        sensor = sensor_id(conn, ref.device_id, ref.kind)
        conn.execute("UPDATE readings SET qc = 4 WHERE sensor_id = %s AND time = %s",
                     (sensor, datetime.fromtimestamp(sim.times[37], UTC)))  # fmt: skip
    start, end = sim.times[0], sim.times[-1] + 60
    values = sim.observed[ref.index].copy()
    with api.login("viewer", people.viewer) as viewer:
        coarse = viewer.get(f"/api/v1/sensors/{sensor}/readings",
                            params={"start": _iso(start), "end": _iso(end), "points": 36}).json()  # fmt: skip
        assert coarse["bucket_s"] == 600 and len(coarse["time"]) == 36
        kept = values.copy()
        kept[37] = np.nan  # a QC failure counts in no mean
        np.testing.assert_allclose(coarse["mean"], np.nanmean(kept.reshape(36, 10), axis=1))
        np.testing.assert_allclose(coarse["max"], np.nanmax(kept.reshape(36, 10), axis=1))
        assert coarse["samples"][3] == 9 and coarse["qc"][3] == 4 and set(coarse["qc"][:3]) == {1}
        raw = viewer.get(f"/api/v1/sensors/{sensor}/readings",
                         params={"start": _iso(start), "end": _iso(end), "points": 1000}).json()  # fmt: skip
        assert raw["bucket_s"] == 0 and len(raw["time"]) == 360 and raw["mean"][37] is None and raw["qc"][37] == 4
        np.testing.assert_allclose([v for v in raw["mean"] if v is not None], values[np.arange(360) != 37])
        default = viewer.get(f"/api/v1/sensors/{sensor}/readings").json()
        assert default["bucket_s"] == 300  # the last 24 h in at most 500 points
        for params, status, code in (({"points": 1}, 422, "invalid"), ({"points": 5001}, 422, "invalid"),
                                     ({"start": "2020-01-01T00:00:00Z"}, 413, "window_too_long"),
                                     ({"start": "yesterday"}, 422, "invalid"),
                                     ({"start": "2026-01-01T00:00:00"}, 422, "invalid")):  # fmt: skip
            bad = viewer.get(f"/api/v1/sensors/{sensor}/readings", params=params)
            assert (bad.status_code, bad.json()["error"]["code"]) == (status, code), params
            assert bad.json()["error"]["field"] in ("points", "start")
        assert viewer.get("/api/v1/sensors/999999/readings").json()["error"]["code"] == "not_found"
        assert viewer.get(f"/api/v1/sensors/{sensor}/forecast").json()["error"]["code"] == "no_forecast"
        exported = viewer.get("/api/v1/export/readings.csv",
                              params={"sensor_id": sensor, "start": _iso(start), "end": _iso(end)})  # fmt: skip
        rows = list(csv.reader(io.StringIO(exported.text)))
        assert rows[0] == ["time", "value", "qc"] and len(rows) == 361
        assert float(rows[1][1]) == values[0] and rows[38][2] == "4"


def test_alert_workflow_keeps_the_audit_trail(stack: Stack, api: ApiProcess, people: People) -> None:
    sites = seed_city(stack, sites=4, hours=1).sites
    with stack.connect() as conn:
        flood = open_alert(conn, sites[0], severity="severe")
        minor = open_alert(conn, sites[1], rule="sensor-stale", kind="stale", severity="minor")
        pending = open_alert(conn, sites[2], state="pending", severity="moderate")
        closed = open_alert(conn, sites[3], state="resolved")
    with api.login("operator", people.operator) as op:
        listed = op.get("/api/v1/alerts").json()["items"]
        assert [a["alert_id"] for a in listed] == [flood, pending, minor]  # most severe first; closed left out
        taken = op.get("/api/v1/alerts", params={"unacknowledged": "true"}).json()["items"]
        assert [a["alert_id"] for a in taken] == [flood, minor]
        page = op.get("/api/v1/alerts", params={"limit": 2}).json()
        rest = op.get("/api/v1/alerts", params={"limit": 2, "cursor": page["next_cursor"]}).json()
        assert [a["alert_id"] for a in page["items"] + rest["items"]] == [flood, pending, minor]
        assert rest["next_cursor"] is None
        assert op.get("/api/v1/alerts", params={"state": "resolved"}).json()["items"][0]["alert_id"] == closed
        assert op.get("/api/v1/alerts", params={"state": "on-fire"}).json()["error"]["field"] == "state"
        assert op.get("/api/v1/alerts", params={"cursor": "zzz"}).json()["error"]["field"] == "cursor"

        acked = op.post(f"/api/v1/alerts/{flood}/ack", json={"note": "pumps dispatched"}).json()
        assert acked["state"] == "acknowledged" and acked["acked_by"] == "operator"
        again = op.post(f"/api/v1/alerts/{flood}/ack", json={})
        assert again.status_code == 409 and again.json()["error"]["code"] == "not_firing"
        gone = op.post(f"/api/v1/alerts/{closed}/ack", json={})
        assert gone.status_code == 409 and gone.json()["error"]["code"] == "not_open"
        assert op.post("/api/v1/alerts/999999/ack", json={}).status_code == 404
        bulk = op.post("/api/v1/alerts/ack", json={"alert_ids": [minor, pending, 999999], "note": "storm"}).json()
        assert bulk == {"acknowledged": [minor], "skipped": [pending, 999999]}
        assert op.post(f"/api/v1/alerts/{flood}/assign", json={"assignee": "viewer"}).json()["assignee"] == "viewer"
        assert op.post(f"/api/v1/alerts/{flood}/assign", json={"assignee": "nobody"}).status_code == 404
        said = op.post(f"/api/v1/alerts/{flood}/comments", json={"text": "truck 3 at the corner"})
        assert said.status_code == 201 and said.json()["author"] == "operator"
        detail = op.get(f"/api/v1/alerts/{flood}").json()
        trail = [(e["to_state"], e["actor"], e["note"]) for e in detail["events"]]
        assert trail == [("firing", "engine", None), ("acknowledged", "operator", "pumps dispatched"),
                         ("acknowledged", "operator", "assigned to viewer")]  # fmt: skip
        assert [c["text"] for c in detail["comments"]] == ["truck 3 at the corner"]

        ends = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
        preview = op.post("/api/v1/silences/preview", json={"matchers": {"rule": "sensor-*"}, "ends_at": ends})
        assert [a["alert_id"] for a in preview.json()["alerts"]] == [minor]
        assert op.get("/api/v1/silences").json() == []  # a preview writes nothing
        made = op.post("/api/v1/silences", json={"matchers": {"rule": "sensor-*", "district": sites[1].district},
                                                 "ends_at": ends, "comment": "gauge maintenance"})  # fmt: skip
        assert made.status_code == 201 and made.json()["created_by"] == "operator" and made.json()["active"]
        active = op.get("/api/v1/silences", params={"active": "true"}).json()
        assert [(s["comment"], s["created_by"]) for s in active] == [("gauge maintenance", "operator")]
        bad = op.post("/api/v1/silences", json={"matchers": {"colour": "red"}, "ends_at": ends, "comment": "x"})
        assert bad.status_code == 422 and bad.json()["error"]["field"].startswith("matchers")
        nul = op.post("/api/v1/silences", json={"matchers": {"rule": "a\u0000b"}, "ends_at": ends, "comment": "x"})
        assert nul.status_code == 422 and nul.json()["error"]["code"] == "invalid"  # PostgreSQL holds no NUL
        expired = op.delete(f"/api/v1/silences/{made.json()['silence_id']}").json()
        assert not expired["active"] and expired["expired_by"] == "operator"
        assert op.get("/api/v1/silences", params={"active": "true"}).json() == []
    with stack.connect() as conn:
        actions = [r[0] for r in conn.execute("SELECT action FROM audit_log WHERE actor = 'operator' ORDER BY at")]
        assert actions == ["silence.create", "silence.expire"]


def _retained_config(stack: Stack, device: DeviceCredential) -> bytes:
    """The configuration the broker holds for ``device``, read as the device reads it."""
    got: list[bytes] = []
    arrived = threading.Event()
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"{device.device_id}-probe",
                         protocol=mqtt.MQTTv5)  # fmt: skip
    client.username_pw_set(device.device_id, device.password)
    topic = protocol.device_topic(device.device_id, protocol.CONFIG_CHANNEL)
    client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)

    def on_message(_client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        got.append(bytes(message.payload))
        arrived.set()

    client.on_message = on_message
    client.connect("127.0.0.1", stack.broker.port)
    client.loop_start()
    try:
        assert arrived.wait(60), "no retained configuration"
    finally:
        client.disconnect()
        client.loop_stop()
    return got[0]


def test_devices_and_remote_configuration(stack: Stack, api: ApiProcess, people: People) -> None:
    city = seed_city(stack, sites=2, hours=1)
    device = city.sites[0].site_id
    with api.login("admin", people.admin) as admin, api.login("operator", people.operator) as op:
        listed = admin.get("/api/v1/devices").json()
        assert [d["device_id"] for d in listed] == sorted(s.site_id for s in city.sites)
        assert admin.get("/api/v1/devices", params={"health": "offline"}).json() == []
        assert admin.get("/api/v1/devices", params={"health": "broken"}).status_code == 422
        config = {"sensors": {"water_level": {"enabled": True, "interval_s": 30}}}
        assert op.put(f"/api/v1/devices/{device}/config", json=config).status_code == 403
        pushed = admin.put(f"/api/v1/devices/{device}/config", json=config)
        assert pushed.status_code == 200, pushed.text
        assert pushed.json()["config"]["sensors"] == {"water_level": {"enabled": True, "interval_s": 30}}
        assert admin.put("/api/v1/devices/nope-device/config", json=config).status_code == 404
        bad = admin.put(f"/api/v1/devices/{device}/config", json={"sensors": {"water_level": {"interval_s": 0}}})
        assert bad.status_code == 422
    retained = protocol.RemoteConfig.decode(_retained_config(stack, city.devices[device]))
    assert retained.sensors["water_level"].interval_s == 30
    with stack.connect() as conn:
        audit = conn.execute("SELECT actor, action, target FROM audit_log WHERE action = 'device.config'").fetchall()
        assert audit == [("admin", "device.config", f"device:{device}")]


def test_cap_feed_lists_the_stored_messages_for_anyone_when_reading_is_open(stack: Stack, people: People) -> None:
    site = seed_city(stack, sites=1, hours=1).sites[0]
    api = stack.start_api(env={"URBANPULSE_API__ANONYMOUS_READ": "true"})
    with stack.connect() as conn:
        alert_id = open_alert(conn, site)
        sent = datetime.now(UTC).timestamp()
        cap = CapAlert(alert_id, 1, "Alert", sent, "street-flood", "water_level", False, Severity.SEVERE, 0.3, 0.1,
                       None, None, sent + 3600, site.name, site.ward, site.district, site.lat, site.lon)  # fmt: skip
        xml = document(cap, "urbanpulse@hcmc.example", "UrbanPulse")
        conn.execute("INSERT INTO cap_messages VALUES (%s, %s, now(), 'Alert', %s)",
                     (identifier(alert_id, 1), alert_id, xml))  # fmt: skip
    with api.client() as anonymous:
        feed = anonymous.get("/api/v1/cap/feed.atom")
        assert feed.headers["content-type"].startswith("application/atom+xml")
        entries = ET.fromstring(feed.text).findall(f"{{{ATOM_NS}}}entry")
        assert len(entries) == 1
        link = entries[0].find(f"{{{ATOM_NS}}}link")
        assert link is not None
        href = link.get("href", "")
        assert href.endswith(f"/api/v1/cap/messages/{identifier(alert_id, 1)}.xml")
        message = anonymous.get(href.replace(api.url, ""))
        assert message.status_code == 200 and message.text == xml
        assert anonymous.get("/api/v1/cap/messages/nope.xml").status_code == 404
        assert anonymous.get("/api/v1/sites").status_code == 200
        assert anonymous.get("/api/v1/map/sites").status_code == 200
        assert anonymous.get("/api/v1/alerts").status_code == 401  # open data only: alerts need a login
