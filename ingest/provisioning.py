"""Provisioning devices: a registry row plus broker credentials, and the edge config to hand over.

The password is generated here, shown once (in the edge config) and stored only as a hash.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from ingest import broker_auth
from storage import registry


@dataclass(frozen=True)
class ProvisionedDevice:
    device_id: str
    password: str
    credential_hash: str  # what the registry and the broker's password file keep

    def edge_config(self, mqtt_host: str, mqtt_port: int, tls: bool = False) -> str:
        """The TOML an edge agent needs (``/etc/urbanpulse/edge.toml``); sensors are added on site."""
        scheme = "mqtts" if tls else "mqtt"
        return (
            "# UrbanPulse edge agent configuration. Keep this file private (chmod 600).\n"
            "# Every key is described in docs/edge.example.toml.\n"
            f'device_id = "{self.device_id}"\n'
            f'mqtt_url = "{scheme}://{self.device_id}:{self.password}@{mqtt_host}:{mqtt_port}"\n'
            "\n"
            "# [[sensors]]\n"
            '# name = "water_level"\n'
            '# driver = "serial-ultrasonic"\n'
            "# interval_s = 60\n"
            '# options = { port = "/dev/ttyAMA0", reference_level_m = 3.2 }\n'
        )


def provision_device(conn: psycopg.Connection, device_id: str, **details: object) -> ProvisionedDevice:
    """Create (or re-key) a device; returns its new password, which is stored only hashed."""
    password = broker_auth.new_password()
    hashed = broker_auth.hash_password(password)
    registry.add_device(conn, device_id, hashed, **details)  # type: ignore[arg-type]
    return ProvisionedDevice(device_id, password, hashed)


def broker_password_hashes(conn: psycopg.Connection, service_hashes: dict[str, str]) -> dict[str, str]:
    """Every account the broker must know: service accounts plus all provisioned devices."""
    return {**registry.credential_hashes(conn), **service_hashes}
