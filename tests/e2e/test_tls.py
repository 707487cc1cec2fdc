"""Devices over mqtts:// (TLS) with a private CA, against the real broker."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from devstack.waiting import wait_until
from edge import protocol
from edge.link import DeviceLink
from tests.harness import Stack


def _make_ca_and_server_cert(folder: Path) -> tuple[Path, Path, Path]:
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True, timeout=60)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=UrbanPulse test CA")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj",
            "/CN=127.0.0.1")  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out",
            "server.crt", "-days", "2", "-extfile", "san.ext")  # fmt: skip
    return folder / "ca.crt", folder / "server.crt", folder / "server.key"


def test_a_device_publishes_over_tls_with_its_own_credentials(stack: Stack, tmp_path: Path) -> None:
    ca, cert, key = _make_ca_and_server_cert(tmp_path)
    port = stack.broker.enable_tls(ca, cert, key)
    stack.broker.restart()
    (device,) = stack.provision(1)
    stack.start_ingestor()
    url = f"mqtts://{device.device_id}:{device.password}@127.0.0.1:{port}"
    link = DeviceLink(protocol.parse_mqtt_url(url, ca_file=str(ca)), device.device_id)
    link.start()
    try:
        wait_until(link.connected.is_set, timeout=60, what="the TLS connection")
        link.publish([protocol.Reading("water_level", time.time(), 0.61, "m")])
        assert link.wait_acknowledged(120)
        stack.wait_rows(1)
    finally:
        link.stop()
