"""Typed server-side settings: environment variables over a TOML file over defaults.

``URBANPULSE_DATABASE_URL`` and ``URBANPULSE_MQTT_URL`` are the two that matter; nested
groups use ``__`` (``URBANPULSE_INGEST__CLIENT_ID``). ``URBANPULSE_CONFIG`` names a TOML file
shaped like ``docs/urbanpulse.example.toml``. Built once in ``main()`` and passed down.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from edge import protocol

DEFAULT_DATABASE_URL = "postgresql://urbanpulse@127.0.0.1:5432/urbanpulse"
DEFAULT_MQTT_URL = "mqtt://svc.ingest@127.0.0.1:1883"
# Long enough to resume a session across a restart; short, because the broker keeps assigning a
# departed instance its share of new messages until the session expires (docs/operations.md).
DEFAULT_SESSION_EXPIRY_S = 60
CONFIG_ENV = "URBANPULSE_CONFIG"


class IngestSettings(BaseModel):
    client_id: str = Field("urbanpulse-ingest-1", description="fixed per instance: the broker keeps its session")
    share_group: str = Field("ingest", description="MQTT v5 shared-subscription group split across instances")
    receive_maximum: int = Field(8192, ge=1, le=65535, description="unacknowledged messages the broker may send us")
    session_expiry_s: int = Field(
        DEFAULT_SESSION_EXPIRY_S,
        ge=0,
        description="how long the broker keeps a departed instance's session (and the messages queued in it)",
    )
    drain_s: float = Field(10.0, ge=0, description="on stop: time to settle messages already received")
    max_batch_readings: int = Field(50_000, ge=1)
    max_batch_delay_s: float = Field(0.05, gt=0, description="latency bound: a batch commits at least this often")
    quarantine_payload_bytes: int = Field(16 * 1024, ge=256, description="raw payload kept per quarantine row")
    metrics_port: int = Field(9464, ge=0, le=65535, description="Prometheus /metrics; 0 disables")
    metrics_host: str = Field("127.0.0.1", description="address the /metrics endpoint binds to")
    retry_initial_s: float = Field(0.2, gt=0)
    retry_max_s: float = Field(15.0, gt=0)
    retention_every_s: float = Field(3600.0, gt=0, description="plain PostgreSQL retention job cadence")
    rollups_every_s: float = Field(300.0, gt=0, description="plain PostgreSQL rollup refresh cadence")


class ValidationSettings(BaseModel):
    """Bounds every reading must meet (seconds throughout); the ingest validator reads them directly."""

    model_config = ConfigDict(frozen=True)

    max_payload_bytes: int = Field(256 * 1024, ge=1024)
    max_future_skew_s: float = Field(300.0, ge=0)
    max_age_s: float = Field(30 * 24 * 3600.0, gt=0)
    accept_relative_times: bool = Field(
        False, description="resolve SenML times below 2**28 against arrival (clock-less devices; not resend-safe)"
    )


class ForecastSettings(BaseModel):
    every_s: float = Field(60.0, gt=0, description="how often the service looks for a new 5-minute bucket")
    history_days: float = Field(14.0, gt=0, description="history each fit learns from")
    refit_h: float = Field(24.0, gt=0, description="models are refitted this often; every bucket between only updates")
    horizon_h: float = Field(3.0, gt=0, le=72, description="how far ahead every sensor is forecast")
    time_zone: str = Field("Asia/Ho_Chi_Minh", description="local time of the traffic profiles (IANA name)")
    holidays: str = Field("VN", description="public-holiday calendar of the traffic profiles (country code)")
    keep_days: float = Field(2.0, gt=0, description="older issues are deleted from the forecasts table")
    catch_up: int = Field(12, ge=1, description="buckets a late loop still issues after the fact (newest kept)")
    shard: str = Field("0/1", pattern=r"^\d+/[1-9]\d*$", description="K/N: this copy forecasts sensor ids = K mod N")

    def shard_pair(self) -> tuple[int, int]:
        index, count = (int(part) for part in self.shard.split("/"))
        if index >= count:
            raise ValueError(f"shard {self.shard}: K must be below N")
        return index, count


class AlertsSettings(BaseModel):
    rules_file: Path | None = Field(None, description="the rules TOML; default: the rules shipped with UrbanPulse")
    every_s: float = Field(30.0, gt=0, description="how often the engine evaluates every rule")
    lookback_s: float = Field(3 * 3600.0, gt=0, description="raw readings each evaluation reads")
    max_readings: int = Field(180, ge=8, le=2000, description="newest readings per sensor the checks see")
    mqtt_url: str | None = Field(None, description="mqtt://svc.alerts:pass@host:port; unset: no MQTT channel")
    retry_initial_s: float = Field(5.0, gt=0, description="first retry of a failed notification")
    retry_max_s: float = Field(600.0, gt=0)


class ApiSettings(BaseModel):
    """The HTTP API (``urbanpulse serve``). Stateless: run as many copies as you like behind a balancer."""

    host: str = Field("127.0.0.1", description="address to listen on")
    port: int = Field(8080, ge=0, le=65535)
    anonymous_read: bool = Field(False, description="public data (sites, readings, CAP, open data) without login")
    cors_origins: list[str] = Field(default_factory=list, description="browser origins allowed; none by default")
    session_hours: float = Field(12.0, gt=0, le=24 * 30, description="a browser session lasts this long")
    cookie_secure: bool = Field(False, description="mark the session cookie Secure (set it when served over https)")
    login_window_s: float = Field(900.0, gt=0, description="failed logins are counted over this window")
    login_max_per_user: int = Field(5, ge=1, description="failed logins per username in the window before 429")
    login_max_per_address: int = Field(20, ge=1, description="failed logins per client address in the window")
    pool_size: int = Field(8, ge=1, le=200, description="database connections per API process")
    stale_after_s: float = Field(900.0, gt=0, description="a sensor or device silent this long is stale on the map")
    sites_cache_s: float = Field(2.0, ge=0, le=60, description="the map's answer is re-rendered at most this often")
    watch_probability: float = Field(0.3, gt=0, le=1, description="flood probability within 3 h that makes 'watch'")
    events_keep_h: float = Field(48.0, ge=24, description="live-stream events kept for Last-Event-ID resumes")
    client_queue: int = Field(1000, ge=10, description="events buffered per stream client before it is dropped")
    map_style_url: str | None = Field(None, description="MapLibre style URL for the dashboard's map")
    map_tile_url: str | None = Field(None, description="raster tile URL template ({z}/{x}/{y}) when no style is set")
    map_attribution: str = Field("© OpenStreetMap contributors", description="shown on the map")
    default_language: str = Field("vi", pattern="^(vi|en)$")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="URBANPULSE_", env_nested_delimiter="__", extra="forbid")

    database_url: str = Field(DEFAULT_DATABASE_URL, description="libpq URL of PostgreSQL/TimescaleDB")
    mqtt_url: str = Field(DEFAULT_MQTT_URL, description="mqtt://user:pass@host:port, mqtts:// for TLS")
    log_level: str = "INFO"
    log_format: str = Field("text", pattern="^(text|json)$")
    ingest: IngestSettings = IngestSettings()
    validation: ValidationSettings = ValidationSettings()
    forecast: ForecastSettings = ForecastSettings()
    alerts: AlertsSettings = AlertsSettings()
    api: ApiSettings = ApiSettings()

    @field_validator("mqtt_url")
    @classmethod
    def _valid_mqtt_url(cls, value: str) -> str:
        protocol.parse_mqtt_url(value)
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        named = settings_cls.model_config.get("toml_file") or os.environ.get(CONFIG_ENV)
        if named:
            path = Path(str(named))
            if not path.is_file():
                raise FileNotFoundError(f"settings file {path}: no such file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    def mqtt(self) -> protocol.MqttEndpoint:
        return protocol.parse_mqtt_url(self.mqtt_url)


def load_settings(config_file: Path | None = None) -> Settings:
    """Settings from the environment over ``config_file`` (else ``URBANPULSE_CONFIG``) over defaults.

    The file is bound to this one load: nothing is written to the environment, so one caller's
    file never leaks into another's settings.
    """
    if config_file is None:
        return Settings()
    bound_config = SettingsConfigDict(**{**Settings.model_config, "toml_file": config_file})
    bound: type[Settings] = type("Settings", (Settings,), {"model_config": bound_config})
    return bound()
