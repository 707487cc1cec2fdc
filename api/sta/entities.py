"""The SensorThings entity model over UrbanPulse's tables (read-only).

Thing = a device (a site's edge box), Location = where it stands, Datastream = one sensor's series,
Sensor = the instrument, ObservedProperty = a metric kind, Observation = one reading. Every SQL
fragment here is a constant; what a client sends only selects among them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from api.sta.filter import Field, FieldType

NUMBER, TEXT, TIME = FieldType.NUMBER, FieldType.TEXT, FieldType.TIME
OBSERVATION_TYPE = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"


@dataclass(frozen=True)
class Link:
    """A navigation property. ``many``: the target rows whose ``target_link`` equals the parent's id;
    else the one target row whose id equals the parent's ``parent_fk`` property."""

    target: str
    many: bool
    target_link: str | None = None  # SQL expression in the target giving the parent's id
    parent_fk: str | None = None  # hidden column of the parent row naming the target


@dataclass(frozen=True)
class Entity:
    plural: str
    singular: str
    source: str  # FROM clause
    key: str  # SQL expression of @iot.id
    text_id: bool
    columns: dict[str, str]  # output property -> SQL expression
    fields: dict[str, Field]  # $filter / $orderby properties
    default_order: str
    links: dict[str, Link] = field(default_factory=dict)
    hidden: dict[str, str] = field(default_factory=dict)  # columns kept for navigation only
    key_lookup: str | None = None  # indexable SQL for one id, given the id's "-"-separated parts


_THING_PROPERTIES = "json_build_object('ward', d.ward, 'district', d.district, 'site_kind', d.metadata ->> 'site_kind')"
_POINT = "json_build_object('type', 'Point', 'coordinates', json_build_array(d.longitude, d.latitude))"
_OBSERVATION_ID = "s_id || '-' || micros"
_STREAM_NAME = "coalesce(d.display_name, d.device_id) || ' ' || s.kind"

ENTITIES: dict[str, Entity] = {
    "Things": Entity(
        "Things", "Thing", "devices d", "d.device_id", True,
        {"name": "coalesce(d.display_name, d.device_id)", "description": "'UrbanPulse edge device ' || d.device_id",
         "properties": _THING_PROPERTIES},
        {"id": Field("d.device_id", TEXT), "name": Field("coalesce(d.display_name, d.device_id)", TEXT),
         "properties/district": Field("d.district", TEXT), "properties/ward": Field("d.ward", TEXT)},
        "d.device_id",
        {"Datastreams": Link("Datastreams", True, target_link="s.device_id"),
         "Locations": Link("Locations", True, target_link="d.device_id")},
    ),
    "Locations": Entity(
        "Locations", "Location", "devices d", "d.device_id", True,
        {"name": "coalesce(d.display_name, d.device_id)", "description": "'Where ' || d.device_id || ' stands'",
         "encodingType": "'application/geo+json'", "location": _POINT},
        {"id": Field("d.device_id", TEXT), "name": Field("coalesce(d.display_name, d.device_id)", TEXT)},
        "d.device_id",
        {"Things": Link("Things", True, target_link="d.device_id")},
    ),
    "Datastreams": Entity(
        "Datastreams", "Datastream", "sensors s JOIN devices d USING (device_id)", "s.sensor_id", False,
        {"name": _STREAM_NAME, "description": "s.device_id || '/' || s.name",
         "observationType": f"'{OBSERVATION_TYPE}'",
         "unitOfMeasurement": "json_build_object('name', s.unit, 'symbol', s.unit, 'definition', s.unit)",
         "properties": "json_build_object('kind', s.kind, 'device_id', s.device_id)"},
        {"id": Field("s.sensor_id", NUMBER), "name": Field(_STREAM_NAME, TEXT),
         "Thing/id": Field("s.device_id", TEXT), "ObservedProperty/id": Field("s.kind", TEXT),
         "properties/kind": Field("s.kind", TEXT)},
        "s.sensor_id",
        {"Thing": Link("Things", False, parent_fk="device_id"), "Sensor": Link("Sensors", False, parent_fk="sensor_id"),
         "ObservedProperty": Link("ObservedProperties", False, parent_fk="kind"),
         "Observations": Link("Observations", True, target_link="r.sensor_id")},
        {"device_id": "s.device_id", "sensor_id": "s.sensor_id", "kind": "s.kind"},
    ),
    "Sensors": Entity(
        "Sensors", "Sensor", "sensors s", "s.sensor_id", False,
        {"name": "s.device_id || '/' || s.name", "description": "s.kind || ' sensor of ' || s.device_id",
         "encodingType": "'text/plain'", "metadata": "s.kind"},
        {"id": Field("s.sensor_id", NUMBER), "name": Field("s.device_id || '/' || s.name", TEXT)},
        "s.sensor_id",
        {"Datastreams": Link("Datastreams", True, target_link="s.sensor_id")},
    ),
    "ObservedProperties": Entity(
        "ObservedProperties", "ObservedProperty", "(SELECT DISTINCT kind, unit FROM sensors) k", "k.kind", True,
        {"name": "k.kind", "definition": "'https://urbanpulse.example/def/' || k.kind",
         "description": "replace(k.kind, '_', ' ') || ' in ' || k.unit"},
        {"id": Field("k.kind", TEXT), "name": Field("k.kind", TEXT)},
        "k.kind",
        {"Datastreams": Link("Datastreams", True, target_link="s.kind")},
    ),
    "Observations": Entity(
        "Observations", "Observation",
        "(SELECT r.*, r.sensor_id::text AS s_id, (extract(epoch FROM r.time) * 1000000)::bigint::text AS micros"
        " FROM readings r) r", _OBSERVATION_ID, True,
        {"phenomenonTime": "api_time(r.time)", "resultTime": "api_time(r.time)", "result": "r.value",
         "resultQuality": "r.qc"},
        {"phenomenonTime": Field("r.time", TIME), "resultTime": Field("r.time", TIME),
         "result": Field("r.value", NUMBER),
         "resultQuality": Field("r.qc", NUMBER), "Datastream/id": Field("r.sensor_id", NUMBER)},
        "r.sensor_id, r.time",
        {"Datastream": Link("Datastreams", False, parent_fk="sensor_id")},
        {"sensor_id": "r.sensor_id"},
        "r.sensor_id = %s::int AND r.time = timestamptz 'epoch' + %s::bigint * interval '1 microsecond'",
    ),
}  # fmt: skip
