"""The UrbanPulse wire contract: topics, SenML packs, sensor names, units and broker URLs.

Standard library only, because this module runs on street hardware (edge) and in the
ingestor alike; both sides import it so they can never disagree. ``docs/protocol.md`` is the
human version of this file, written for hardware vendors.

Readings travel as SenML packs (RFC 8428) in JSON, many records per message, on
``urbanpulse/v1/devices/{device_id}/readings``. A record's resolved name (base name + name)
is ``{device_id}/{kind}`` or ``{device_id}/{kind}.{channel}``; its time is SenML seconds
since the Unix epoch; its unit a SenML symbol (RFC 8428 §12.1, RFC 8798) accepted for its kind.
"""

from __future__ import annotations

import enum
import functools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeGuard
from urllib.parse import unquote, urlsplit

from edge import safejson

SCHEMA_VERSION = 1
TOPIC_ROOT = "urbanpulse/v1/devices"
READINGS_CHANNEL = "readings"
STATUS_CHANNEL = "status"  # retained birth message / Last Will: {"state": "online"|"offline", ...}
HEARTBEAT_CHANNEL = "heartbeat"  # periodic health, see Heartbeat
CONFIG_CHANNEL = "config"  # retained remote config, server -> device (RemoteConfig)
CONFIG_ACK_CHANNEL = "config/ack"  # device -> server: applied or rejected, with the reason
RECEIPTS_CHANNEL = "receipts"  # server -> device: which packs are durably settled (edge.receipts)
DEVICE_CHANNELS_UP = (READINGS_CHANNEL, STATUS_CHANNEL, HEARTBEAT_CHANNEL, CONFIG_ACK_CHANNEL)
ALERTS_TOPIC_ROOT = "urbanpulse/v1/alerts"  # server -> people: alert notifications, + "/<tier>/<area>"
CAP_TOPIC = "urbanpulse/v1/cap"  # server -> public: the CAP 1.2 feed

DEVICE_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
SENSOR_NAME_PATTERN = re.compile(r"^(?P<kind>[a-z][a-z_]*)(?:\.(?P<channel>[a-z0-9][a-z0-9_-]{0,31}))?$")

# SenML: times below 2**28 are relative to "now" (RFC 8428 §4.5.3).
SENML_RELATIVE_TIME_LIMIT = 2**28
# SenML base version this contract speaks (RFC 8428 §4.4: absent means 10).
SENML_VERSION = 10
MAX_EPOCH_S = 4_102_444_800.0  # 2100-01-01T00:00:00Z: a device time beyond it is refused outright
MAX_COUNT = 2**53  # counters in heartbeats: whole numbers a double still holds exactly
MAX_VERSION_CHARS = 64
MAX_REASON_CHARS = 1000


class Kind(enum.StrEnum):
    """The kinds of measurement the contract knows; a sensor name starts with one (``kind[.channel]``)."""

    WATER_LEVEL = "water_level"
    RAINFALL = "rainfall"
    TRAFFIC_COUNT = "traffic_count"
    TRAFFIC_SPEED = "traffic_speed"


@dataclass(frozen=True)
class MetricKind:
    """A kind of measurement: its canonical stored unit and the units accepted on the wire.

    ``accepted_units`` maps a SenML unit symbol to the factor that converts it to the
    canonical unit (value_canonical = value * factor). ``minimum`` .. ``maximum`` (canonical
    unit) is what the quantity can physically be: a value outside it, checked after the unit
    conversion, is refused, never stored. Implausible values inside it are stored and flagged
    (the server's QARTOD gross-range test), because a record flood is also "absurd".
    """

    name: Kind
    unit: str
    accepted_units: dict[str, float]
    description: str
    minimum: float
    maximum: float


METRIC_KINDS: dict[str, MetricKind] = {  # keyed by Kind (a str)
    kind.name: kind
    for kind in (
        # A gauge datum lies near sea level: a kilometre either way is beyond any canal or river.
        MetricKind(
            Kind.WATER_LEVEL,
            "m",
            {"m": 1.0, "cm": 0.01, "mm": 0.001},
            "water surface above the gauge datum",
            -1_000.0,
            1_000.0,
        ),
        # The world's greatest 24-hour rainfall is about 1,825 mm (La Reunion, 1966).
        MetricKind(Kind.RAINFALL, "mm", {"mm": 1.0}, "rain depth accumulated since the previous reading", 0.0, 2_000.0),
        MetricKind(
            Kind.TRAFFIC_COUNT, "count", {"count": 1.0}, "vehicles counted since the previous reading", 0.0, 1_000_000.0
        ),
        MetricKind(
            Kind.TRAFFIC_SPEED,
            "km/h",
            {"km/h": 1.0, "m/s": 3.6},
            "mean speed of vehicles since the previous reading",
            0.0,
            500.0,
        ),
    )
}


class ProtocolError(ValueError):
    """A topic, name or URL that does not follow the contract."""


def readings_topic(device_id: str) -> str:
    return device_topic(device_id, READINGS_CHANNEL)


def receipts_topic(device_id: str) -> str:
    """Where the server tells the device which of its packs are settled (edge.receipts)."""
    return device_topic(device_id, RECEIPTS_CHANNEL)


def device_topic(device_id: str, channel: str) -> str:
    if not DEVICE_ID_PATTERN.match(device_id):
        raise ProtocolError(f"invalid device id {device_id!r}: lowercase letters, digits and '-', 2-63 chars")
    return f"{TOPIC_ROOT}/{device_id}/{channel}"


def subscription_filter(channel: str = READINGS_CHANNEL, share_group: str | None = None) -> str:
    """Topic filter for all devices' ``channel``; an MQTT v5 shared subscription when grouped."""
    topic = f"{TOPIC_ROOT}/+/{channel}"
    return f"$share/{share_group}/{topic}" if share_group else topic


@functools.lru_cache(maxsize=65_536)  # a fleet has few topics and the ingestor parses one per message
def parse_device_topic(topic: str) -> tuple[str, str]:
    """Split ``urbanpulse/v1/devices/{device_id}/{channel}`` into (device_id, channel)."""
    prefix = TOPIC_ROOT + "/"
    if not topic.startswith(prefix):
        raise ProtocolError(f"topic {topic!r} is not under {TOPIC_ROOT}/")
    device_id, _, channel = topic[len(prefix) :].partition("/")
    if not DEVICE_ID_PATTERN.match(device_id) or channel not in DEVICE_CHANNELS_UP + (CONFIG_CHANNEL,):
        raise ProtocolError(f"topic {topic!r} does not name a device and a known channel")
    return device_id, channel


def base_name(device_id: str) -> str:
    return f"{device_id}/"


def sensor_name(kind: str, channel: str | None = None) -> str:
    """The local sensor name used in SenML ``n``: ``kind`` or ``kind.channel``."""
    name = kind if channel is None else f"{kind}.{channel}"
    if kind not in METRIC_KINDS or not SENSOR_NAME_PATTERN.match(name):
        raise ProtocolError(f"invalid sensor name {name!r}")
    return name


def kind_of(sensor: str) -> str | None:
    """The metric kind of a local sensor name, or None when the name breaks the contract."""
    match = SENSOR_NAME_PATTERN.match(sensor)
    return match.group("kind") if match else None


@dataclass(frozen=True)
class Reading:
    """One measurement as a device produces it, before it goes on the wire."""

    sensor: str  # local name, e.g. "water_level" or "traffic_count.lane2"
    time: float  # seconds since the Unix epoch, UTC
    value: float
    unit: str


def encode_pack(device_id: str, readings: Sequence[Reading]) -> bytes:
    """Encode readings as one compact SenML pack (JSON bytes).

    The first record carries base name, base time, base unit and version; later records
    carry only what differs from them (relative time; a unit only where it is not the base
    unit, since SenML inherits ``bu`` but never ``u``), which keeps a 100-reading message small.

    The base time is a whole second and every offset is rounded to the microsecond, so a reading
    resolves to ``round(time, 6)`` in whatever pack it travels: a reading sent again in another
    pack (after a restart, say) has the same key on the server and is stored once.
    """
    if not readings:
        raise ProtocolError("a pack needs at least one reading")
    if not all(math.isfinite(r.time) for r in readings):
        raise ProtocolError("a reading's time must be a finite number of seconds")
    base_time = math.floor(readings[0].time)
    base_unit = readings[0].unit
    records: list[dict[str, object]] = []
    for index, reading in enumerate(readings):
        record: dict[str, object] = {"n": reading.sensor, "v": reading.value}
        if index == 0:
            record = {"bn": base_name(device_id), "bt": base_time, "bu": base_unit, "bver": SENML_VERSION, **record}
        offset = round(reading.time - base_time, 6)  # exact subtraction: the base is a whole second nearby
        if offset:
            record["t"] = offset
        if reading.unit != base_unit:
            record["u"] = reading.unit
        records.append(record)
    return json.dumps(records, separators=(",", ":"), allow_nan=False).encode()


STATE_ONLINE = "online"
STATE_OFFLINE = "offline"
CLOCK_SYNCED = "synced"
CLOCK_UNSYNCED = "unsynced"  # the kernel says NTP has not synchronised: timestamps may drift
CLOCK_IMPLAUSIBLE = "implausible"  # before the agent's build date: readings are held, never sent


def encode_status(state: str, version: str = "") -> bytes:
    """The retained status message: the birth message on connect, the Last Will on a lost link."""
    if state not in (STATE_ONLINE, STATE_OFFLINE):
        raise ProtocolError(f"unknown state {state!r}")
    body: dict[str, object] = {"state": state}
    if version:
        body["version"] = version
    return json.dumps(body, separators=(",", ":")).encode()


def json_object(payload: bytes, what: str) -> dict[str, object]:
    """The JSON object a control message carries; raises ProtocolError (never anything else)."""
    try:
        data = safejson.loads(payload)
    except safejson.JsonRefused as error:
        raise ProtocolError(f"{what} message is not JSON: {error}") from error
    if not isinstance(data, dict):
        raise ProtocolError(f"{what} message is not a JSON object")
    return data


def _text(data: dict[str, object], key: str, limit: int, what: str) -> str | None:
    """An optional text field: absent -> None; a string longer than ``limit`` or unprintable is refused."""
    if key not in data or data[key] is None:
        return None
    text = safejson.bounded_text(data[key], limit)
    if text is None:
        raise ProtocolError(f"{what} {key} must be printable text of at most {limit} characters, "
                            f"got {safejson.describe(data[key])}")  # fmt: skip
    return text


def _real(data: dict[str, object], key: str, low: float, high: float, what: str) -> float:
    value = data.get(key)
    if not is_number(value) or not low <= value <= high:  # NaN fails both comparisons
        raise ProtocolError(f"{what} {key} must be a number in [{low:g}, {high:g}], got {safejson.describe(value)}")
    return float(value)


def _count(data: dict[str, object], key: str, what: str) -> int:
    value = data.get(key)
    if type(value) is not int or not 0 <= value <= MAX_COUNT:
        raise ProtocolError(f"{what} {key} must be a whole number in [0, 2**53], got {safejson.describe(value)}")
    return value


def decode_status(payload: bytes) -> tuple[str, str | None]:
    """(state, version) of a status message; raises ProtocolError saying what is wrong."""
    data = json_object(payload, STATUS_CHANNEL)
    state = data.get("state")
    if state not in (STATE_ONLINE, STATE_OFFLINE):
        raise ProtocolError(f"status state {safejson.describe(state)} is not online/offline")
    return str(state), _text(data, "version", MAX_VERSION_CHARS, "status")


@dataclass(frozen=True)
class Heartbeat:
    """Periodic health of a device, sent on its heartbeat topic as a JSON object with these keys."""

    time: float  # seconds since the epoch
    queue_depth: int  # readings waiting in the store-and-forward queue
    oldest_queued_age_s: float | None  # age of the oldest waiting reading
    evicted_total: int  # readings dropped by the disk budget since installation
    refused_total: int  # readings the broker refused for good since start
    held_total: int  # readings not taken because the clock was implausible, since start
    disk_free_bytes: int | None
    cpu_temperature_c: float | None
    uptime_s: float
    version: str
    clock: str  # CLOCK_SYNCED, CLOCK_UNSYNCED or CLOCK_IMPLAUSIBLE

    def encode(self) -> bytes:
        return json.dumps(self.__dict__, separators=(",", ":"), allow_nan=False).encode()

    @classmethod
    def decode(cls, payload: bytes) -> Heartbeat:
        """Parse and bound a heartbeat; raises ProtocolError naming the first field that is wrong.

        Every field is checked against what its database column holds, so a heartbeat that
        decodes is one the server can store.
        """
        data = json_object(payload, HEARTBEAT_CHANNEL)
        what = "heartbeat"
        missing = [name for name in cls.__dataclass_fields__ if name not in data]
        if missing:
            raise ProtocolError(f"{what} lacks {', '.join(missing)}")
        version = _text(data, "version", MAX_VERSION_CHARS, what)
        if version is None or data["clock"] not in (CLOCK_SYNCED, CLOCK_UNSYNCED, CLOCK_IMPLAUSIBLE):
            raise ProtocolError(f"{what} needs a version and clock synced/unsynced/implausible")
        present = {key for key, value in data.items() if value is not None}
        return cls(
            time=_real(data, "time", 0.0, MAX_EPOCH_S, what),
            queue_depth=_count(data, "queue_depth", what),
            oldest_queued_age_s=(
                _real(data, "oldest_queued_age_s", 0.0, MAX_EPOCH_S, what) if "oldest_queued_age_s" in present else None
            ),
            evicted_total=_count(data, "evicted_total", what),
            refused_total=_count(data, "refused_total", what),
            held_total=_count(data, "held_total", what),
            disk_free_bytes=_count(data, "disk_free_bytes", what) if "disk_free_bytes" in present else None,
            cpu_temperature_c=(
                _real(data, "cpu_temperature_c", -273.15, 1_000.0, what) if "cpu_temperature_c" in present else None
            ),
            uptime_s=_real(data, "uptime_s", 0.0, MAX_EPOCH_S, what),
            version=version,
            clock=str(data["clock"]),
        )


def is_number(value: object) -> TypeGuard[int | float]:
    """A JSON number: int or float, not a bool (which Python counts as an int)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class SensorSetting:
    enabled: bool = True
    interval_s: float | None = None  # None: keep the current interval


@dataclass(frozen=True)
class RemoteConfig:
    """The retained message on a device's config topic: ``{"version": 7, "sensors": {name: {...}}}``."""

    version: int
    sensors: dict[str, SensorSetting]

    def encode(self) -> bytes:
        sensors = {
            name: {"enabled": s.enabled, **({"interval_s": s.interval_s} if s.interval_s is not None else {})}
            for name, s in self.sensors.items()
        }
        return json.dumps({"version": self.version, "sensors": sensors}, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, payload: bytes) -> RemoteConfig:
        """Parse and check a remote config; raises ProtocolError saying what is wrong."""
        data = json_object(payload, CONFIG_CHANNEL)
        settings = data.get("sensors")
        if not isinstance(settings, dict):
            raise ProtocolError("config must be an object with a 'sensors' object")
        version = data.get("version")
        if type(version) is not int or not 0 <= version <= MAX_COUNT:
            raise ProtocolError("config 'version' must be a whole number")
        sensors = {}
        for name, setting in settings.items():
            shown = safejson.describe(name)
            if not isinstance(setting, dict) or set(setting) - {"enabled", "interval_s"}:
                raise ProtocolError(f"sensor {shown}: only 'enabled' and 'interval_s' can be set")
            enabled = setting.get("enabled", True)
            interval = setting.get("interval_s")
            if not isinstance(enabled, bool):
                raise ProtocolError(f"sensor {shown}: 'enabled' must be true or false")
            if interval is not None and (not is_number(interval) or not 0 < interval <= 86_400):
                raise ProtocolError(f"sensor {shown}: 'interval_s' must be a number of seconds in (0, 86400]")
            sensors[name] = SensorSetting(enabled, None if interval is None else float(interval))
        return cls(version, sensors)


def encode_config_ack(version: int | None, applied: bool, reason: str = "") -> bytes:
    """The device's answer on its config/ack topic."""
    body = {"version": version, "status": "applied" if applied else "rejected", "reason": reason}
    return json.dumps(body, separators=(",", ":")).encode()


def decode_config_ack(payload: bytes) -> tuple[int | None, bool, str]:
    """(version, applied, reason) of a config answer; raises ProtocolError saying what is wrong."""
    what = "config ack"
    data = json_object(payload, CONFIG_ACK_CHANNEL)
    if data.get("status") not in ("applied", "rejected"):
        raise ProtocolError(f"{what} needs status 'applied' or 'rejected'")
    version = None if data.get("version") is None else _count(data, "version", what)
    return version, data["status"] == "applied", _text(data, "reason", MAX_REASON_CHARS, what) or ""


@dataclass(frozen=True)
class MqttEndpoint:
    """Where and how to reach the broker, parsed from ``mqtt://user:pass@host:port``."""

    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None
    ca_file: str | None = None  # CA bundle for mqtts:// (None: the system's trusted CAs)

    def redacted(self) -> str:
        """The URL for logs, never showing the password."""
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}:***@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


def parse_mqtt_url(url: str, ca_file: str | None = None) -> MqttEndpoint:
    """Parse ``mqtt://`` (TCP, default port 1883) or ``mqtts://`` (TLS, default 8883) URLs."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ProtocolError(f"MQTT URL must start with mqtt:// or mqtts://, got {parts.scheme or url!r}")
    if not parts.hostname:
        raise ProtocolError(f"MQTT URL {url!r} has no host")
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as error:
        raise ProtocolError(f"MQTT URL {url!r} has an invalid port") from error
    return MqttEndpoint(
        host=parts.hostname,
        port=port,
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        ca_file=ca_file,
    )
