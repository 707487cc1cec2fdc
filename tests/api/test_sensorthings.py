"""OGC SensorThings v1.1 open data, read by an independent client (FROST's frost-sta-client): the
same values as the readings endpoint; query options and $filter checked over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import frost_sta_client as fsc
import numpy as np
import pytest

from tests.api.city import seed_city
from tests.api.conftest import People
from tests.harness import Stack

# frost-sta-client calls furl's deprecated pathstr on every request: its warning, not ours
pytestmark = pytest.mark.filterwarnings("ignore:furl.pathstr is deprecated:DeprecationWarning")


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_an_independent_sta_client_reads_what_the_readings_endpoint_serves(stack: Stack, people: People) -> None:
    city = seed_city(stack, sites=3, hours=2)
    api = stack.start_api(env={"URBANPULSE_API__ANONYMOUS_READ": "true"})
    service = fsc.SensorThingsService(f"{api.url}/sta/v1.1")
    things = list(service.things().query().list())
    assert sorted(t.id for t in things) == sorted(s.site_id for s in city.sites)
    water = list(service.datastreams().query().filter("ObservedProperty/id eq 'water_level'").list())
    assert water, "the city has water gauges"
    stream = service.datastreams().find(water[0].id)
    assert stream.unit_of_measurement.symbol == "m"
    times = city.sim.times
    start, end = _iso(times[30]), _iso(times[90])
    observations = list(
        stream.get_observations().query().filter(f"phenomenonTime ge {start} and phenomenonTime lt {end}")
        .orderby("phenomenonTime", "ASC").top(25).list()  # three pages, followed through @iot.nextLink
    )  # fmt: skip
    assert len(observations) == 60
    with api.client() as client:
        served = client.get(f"/api/v1/sensors/{stream.id}/readings",
                            params={"start": start, "end": end, "points": 1000}).json()  # fmt: skip
    assert served["bucket_s"] == 0
    assert [o.result for o in observations] == served["mean"]
    assert [str(o.phenomenon_time).replace("+00:00", "Z") for o in observations] == served["time"]
    ref = next(r for r in city.sim.sensors if r.device_id == stream.properties["device_id"] and r.kind == "water_level")
    np.testing.assert_array_equal([o.result for o in observations], city.sim.observed[ref.index, 30:90])


def test_query_options_and_filters(stack: Stack, people: People) -> None:
    city = seed_city(stack, sites=2, hours=1)
    api = stack.start_api()
    device = city.sites[0].site_id
    with api.login("viewer", people.viewer) as viewer:
        root = viewer.get("/sta/v1.1").json()
        assert {v["name"] for v in root["value"]} == {"Things", "Locations", "Datastreams", "Sensors",
                                                       "ObservedProperties", "Observations"}  # fmt: skip
        counted = viewer.get("/sta/v1.1/Datastreams", params={"$count": "true", "$top": "1"}).json()
        assert counted["@iot.count"] == len(city.sim.sensors) and len(counted["value"]) == 1
        assert "@iot.nextLink" in counted
        picked = viewer.get(
            f"/sta/v1.1/Things('{device}')", params={"$select": "name", "$expand": "Datastreams,Locations"}
        ).json()
        assert set(picked) == {"@iot.selfLink", "name", "Datastreams", "Locations"}
        assert picked["Locations"][0]["location"]["coordinates"] == [city.sites[0].lon, city.sites[0].lat]
        kinds = sorted(d["properties"]["kind"] for d in picked["Datastreams"])
        assert kinds == sorted(city.sites[0].sensor_kinds)
        stream = picked["Datastreams"][0]["@iot.id"]
        assert viewer.get(f"/sta/v1.1/Datastreams({stream})/Thing").json()["@iot.id"] == device
        newest = viewer.get(f"/sta/v1.1/Datastreams({stream})/Observations",
                            params={"$orderby": "phenomenonTime desc", "$top": "1"}).json()["value"][0]  # fmt: skip
        one = viewer.get(f"/sta/v1.1/Observations('{newest['@iot.id']}')").json()
        assert one["result"] == newest["result"] and one["phenomenonTime"] == newest["phenomenonTime"]
        high = viewer.get("/sta/v1.1/Observations", params={
            "$filter": f"Datastream/id eq {stream} and (result gt 1e9 or result lt -1e9)"}).json()  # fmt: skip
        assert high["value"] == []
        for params in ({"$filter": "result gt"}, {"$filter": "nonsense eq 1"}, {"$filter": "result eq 'x'"},
                       {"$filter": "result gt 1; DROP TABLE readings"}, {"$top": "-1"}, {"$top": "100000"},
                       {"$orderby": "colour"}, {"$expand": "Friends"}, {"$select": "secret"},
                       {"$levels": "2"}):  # fmt: skip
            bad = viewer.get("/sta/v1.1/Observations", params=params)
            assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_query", params
        assert viewer.get("/sta/v1.1/Things(1)").status_code == 404  # Thing ids are quoted strings
        assert viewer.get("/sta/v1.1/Robots").status_code == 404
        assert viewer.get("/sta/v1.1/Observations('12-x')").status_code == 404
    with stack.connect() as conn:
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (int(np.isfinite(city.sim.observed).sum()),)
