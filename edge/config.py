"""The edge agent's configuration: a TOML file read into frozen dataclasses (standard library only).

See ``docs/edge.example.toml`` for every key. Errors name the key and the file, so a field
technician can fix them without reading code.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge import protocol

DEFAULT_QUEUE_PATH = Path("/var/lib/urbanpulse/queue.db")


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class SensorConfig:
    name: str  # kind[.channel], e.g. "water_level" or "traffic_count.lane1"
    driver: str  # "serial-ultrasonic", "tipping-bucket", "exec", or "package.module:Class"
    interval_s: float
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EdgeConfig:
    device_id: str
    mqtt_url: str
    sensors: tuple[SensorConfig, ...]
    queue_path: Path = DEFAULT_QUEUE_PATH
    max_queued_readings: int = 2_000_000
    durability: str = "normal"
    readings_per_message: int = 100
    max_in_flight: int = 64
    drain_max_readings_per_s: float | None = 1_000.0
    receipt_timeout_s: float = 30.0
    resend_max_s: float = 120.0
    heartbeat_s: float = 60.0
    tls_ca_file: str | None = None

    @property
    def endpoint(self) -> protocol.MqttEndpoint:
        return protocol.parse_mqtt_url(self.mqtt_url, self.tls_ca_file)


def load_config(path: Path) -> EdgeConfig:
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: {error}") from error
    return parse_config(raw, str(path))


def _positive(table: dict[str, Any], key: str, default: float, source: str) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{source}: forward.{key} must be a positive number of seconds")
    return float(value)


def parse_config(raw: dict[str, Any], source: str = "config") -> EdgeConfig:
    def need(table: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
        if key not in table:
            raise ConfigError(f"{source}: missing {where}{key}")
        value = table[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ConfigError(f"{source}: {where}{key} has the wrong type ({type(value).__name__})")
        return value

    device_id = need(raw, "device_id", str, "")
    if not protocol.DEVICE_ID_PATTERN.match(device_id):
        raise ConfigError(f"{source}: device_id {device_id!r} is not a valid device id")
    mqtt_url = need(raw, "mqtt_url", str, "")
    try:
        protocol.parse_mqtt_url(mqtt_url)
    except protocol.ProtocolError as error:
        raise ConfigError(f"{source}: mqtt_url: {error}") from error
    sensors = []
    for index, table in enumerate(raw.get("sensors", [])):
        where = f"sensors[{index}]."
        name = need(table, "name", str, where)
        if protocol.kind_of(name) not in protocol.METRIC_KINDS:
            raise ConfigError(f"{source}: {where}name {name!r} is not kind[.channel] of a known kind")
        interval = float(need(table, "interval_s", (int, float), where))
        if interval <= 0:
            raise ConfigError(f"{source}: {where}interval_s must be positive")
        sensors.append(SensorConfig(name, need(table, "driver", str, where), interval, dict(table.get("options", {}))))
    if len({s.name for s in sensors}) != len(sensors):
        raise ConfigError(f"{source}: two sensors share a name")
    queue = raw.get("queue", {})
    forward = raw.get("forward", {})
    return EdgeConfig(
        device_id=device_id,
        mqtt_url=mqtt_url,
        sensors=tuple(sensors),
        queue_path=Path(queue.get("path", DEFAULT_QUEUE_PATH)),
        max_queued_readings=int(queue.get("max_readings", 2_000_000)),
        durability=str(queue.get("durability", "normal")),
        readings_per_message=int(forward.get("readings_per_message", 100)),
        max_in_flight=int(forward.get("max_in_flight", 64)),
        drain_max_readings_per_s=forward.get("drain_max_readings_per_s", 1_000.0),
        receipt_timeout_s=_positive(forward, "receipt_timeout_s", 30.0, source),
        resend_max_s=_positive(forward, "resend_max_s", 120.0, source),
        heartbeat_s=float(raw.get("health", {}).get("heartbeat_s", 60.0)),
        tls_ca_file=raw.get("tls_ca_file"),
    )
