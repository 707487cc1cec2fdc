"""The whole UrbanPulse stack on one machine: private PostgreSQL + Mosquitto, migrated and secured.

Used by ``urbanpulse demo`` (and by benchmarks): start it, provision devices, hand out URLs.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

import psycopg

from devstack.mosquitto import MosquittoBroker
from devstack.postgres import PostgresOptions, PostgresServer
from ingest import broker_auth, provisioning
from runtime.settings import IngestSettings, Settings, ValidationSettings
from simulators.fleet import DeviceCredential
from simulators.sites import Site, alarm_levels, drainage_facts
from storage.migrate import migrate

VENDOR_DEVICE = "demo-vendor"  # a device left free for people trying the protocol by hand


def site_details(site: Site) -> dict[str, object]:
    """A simulated site as its device is registered: place, ward, district, kind, alarm levels and, for a
    street, its drainage facts (the street-flood outlook's priors, docs/forecasting.md)."""
    metadata: dict[str, object] = {"site_kind": site.kind, "alarm_levels": alarm_levels(site)}
    drainage = drainage_facts(site)
    if drainage:
        metadata["drainage"] = drainage
    return {
        "display_name": site.name,
        "ward": site.ward,
        "district": site.district,
        "latitude": site.lat,
        "longitude": site.lon,
        "metadata": metadata,
    }


@dataclass
class LocalStack:
    data_dir: Path
    postgres: PostgresServer
    broker: MosquittoBroker
    ingest_password: str
    alerts_password: str

    @classmethod
    def start(cls, data_dir: Path, durable: bool = True) -> LocalStack:
        """Both servers, or neither: a failure (or an interrupt) half-way stops what had started."""
        data_dir.mkdir(parents=True, exist_ok=True)
        postgres = PostgresServer(data_dir / "postgres", PostgresOptions(durable=durable))
        postgres.start()
        try:
            migrate(postgres.url())
            broker = MosquittoBroker(data_dir / "mosquitto")
            stack = cls(data_dir, postgres, broker, broker_auth.new_password(), broker_auth.new_password())
            broker.write_auth(stack.service_hashes())
            broker.start()
        except BaseException:
            postgres.stop()
            raise
        return stack

    def provision(self, device_ids: list[str]) -> list[DeviceCredential]:
        """Create devices (fresh passwords) and let the running broker know them."""
        return self._provision({d: {} for d in device_ids})

    def provision_sites(self, sites: list[Site], extra: list[str]) -> list[DeviceCredential]:
        """One device per simulated site, registered with its place; then the ``extra`` bare devices."""
        details = {s.site_id: site_details(s) for s in sites}
        return self._provision({**details, **{d: {} for d in extra}})

    def _provision(self, devices_details: dict[str, dict[str, object]]) -> list[DeviceCredential]:
        with psycopg.connect(self.postgres.url(), autocommit=True) as conn:
            devices = [provisioning.provision_device(conn, d, **kw) for d, kw in devices_details.items()]
            hashes = provisioning.broker_password_hashes(conn, self.service_hashes())
        self.broker.write_auth(hashes)
        self.broker.reload()
        return [DeviceCredential(d.device_id, d.password) for d in devices]

    def service_hashes(self) -> dict[str, str]:
        return {
            broker_auth.INGEST_ACCOUNT: broker_auth.hash_password(self.ingest_password),
            broker_auth.ALERTS_ACCOUNT: broker_auth.hash_password(self.alerts_password),
        }

    def alerts_mqtt_url(self) -> str:
        return self.broker.url(broker_auth.ALERTS_ACCOUNT, self.alerts_password)

    def settings(self, client_id: str = "urbanpulse-demo-ingest", max_age_s: float | None = None) -> Settings:
        """Ingestor settings; ``max_age_s`` also admits readings that old (never less than the default)."""
        default = ValidationSettings()
        validation = default if max_age_s is None else ValidationSettings(max_age_s=max(max_age_s, default.max_age_s))
        return Settings(
            database_url=self.postgres.url(),
            mqtt_url=self.broker.url(broker_auth.INGEST_ACCOUNT, self.ingest_password),
            ingest=IngestSettings(client_id=client_id, metrics_port=0),
            validation=validation,
        )

    def write_env_file(self, vendor: DeviceCredential) -> Path:
        """Shell variables for trying things by hand (docs/protocol.md sources this file)."""
        path = self.data_dir / "demo.env"
        values = {
            "URBANPULSE_DATABASE_URL": self.postgres.url(),
            "URBANPULSE_MQTT_URL": self.broker.url(broker_auth.INGEST_ACCOUNT, self.ingest_password),
            "URBANPULSE_ALERTS__MQTT_URL": self.alerts_mqtt_url(),
            "MQTT_HOST": "127.0.0.1",
            "MQTT_PORT": str(self.broker.port),
            "DEVICE_ID": vendor.device_id,
            "DEVICE_PASSWORD": vendor.password,
            "BROKER_DIR": str(self.broker.base_dir),
        }
        path.write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in values.items()))
        path.chmod(0o600)
        return path

    def stop(self) -> None:
        try:
            self.broker.stop()
        finally:
            self.postgres.stop()
