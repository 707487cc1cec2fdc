"""Typed handles over the real services the tests drive: PostgreSQL, Mosquitto, ingestor processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from api.queries.people import add_user
from api.roles import Role
from devstack.mosquitto import MosquittoBroker
from devstack.ports import free_port
from devstack.postgres import PostgresServer
from devstack.waiting import wait_until
from edge import protocol
from edge.link import DeviceLink, ResendPolicy
from ingest import broker_auth, provisioning
from runtime.settings import IngestSettings, Settings
from simulators import basic
from simulators.fleet import DeviceCredential, Fleet

REPO = Path(__file__).resolve().parents[1]
# A pack waits for its receipt longer than any test waits: a receipt slowed by a busy machine is then
# no resend (so "none sent again" and duplicate counts hold), and a pack never settled fails the wait.
NO_RESEND = ResendPolicy(receipt_timeout_s=3600.0, max_interval_s=3600.0)


class ChildProcess:
    """A service run as ``python -m ...`` with its output in a log file: stopped as systemd would."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.process = subprocess.Popen([sys.executable, "-m", *args], env=env, cwd=REPO, stdout=self._log,
                                        stderr=subprocess.STDOUT)  # fmt: skip

    def stop(self) -> int:
        """SIGTERM and the exit code; SIGKILL only after a minute (a clean stop settles what the service
        holds, however slowly a busy machine lets it)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()
        return self.process.returncode

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


class IngestorProcess(ChildProcess):
    """``python -m ingest`` as a child process, so tests can kill -9 it like a real crash."""

    def __init__(self, env: dict[str, str], log_path: Path, metrics_port: int) -> None:
        self.metrics_port = metrics_port
        super().__init__(["ingest"], env, log_path)

    def kill9(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def metric(self, name: str) -> float:
        """Sum of a metric's samples scraped from the process's /metrics endpoint."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=30) as response:
            text = response.read().decode()
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(name) and not line.startswith("#") and line[len(name)] in " {"
        )


class ApiProcess(ChildProcess):
    """``urbanpulse serve`` as a child process on a free loopback port: the API over real HTTP.

    Several can run against one database (the API is stateless); ``env`` adds settings such as
    ``URBANPULSE_API__ANONYMOUS_READ``. ``login`` hands back an httpx client holding the session
    cookie and sending the CSRF header, as the dashboard does.
    """

    def __init__(self, database_url: str, log_path: Path, mqtt_url: str | None = None,
                 env: dict[str, str] | None = None) -> None:  # fmt: skip
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {**os.environ, "URBANPULSE_DATABASE_URL": database_url, **(env or {})}
        if mqtt_url is not None:
            full_env["URBANPULSE_MQTT_URL"] = mqtt_url
        full_env.pop("URBANPULSE_CONFIG", None)
        super().__init__(["api", "serve", "--host", "127.0.0.1", "--port", str(self.port)], full_env, log_path)
        wait_until(self._ready, timeout=120, what=f"the API on port {self.port}")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"the API exited with {self.process.returncode}: {self.log_text()[-2000:]}")
        return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, **kwargs)  # type: ignore[arg-type]

    def login(self, username: str, password: str) -> httpx.Client:
        # argon2id takes a moment of CPU, many moments on a busy machine: not httpx's 5 s default
        answer = httpx.post(f"{self.url}/api/v1/auth/login", json={"username": username, "password": password},
                            timeout=60)  # fmt: skip
        answer.raise_for_status()
        return self.client(cookies=answer.cookies, headers={"X-CSRF-Token": answer.json()["csrf_token"]})

    def bearer(self, token: str) -> httpx.Client:
        return self.client(headers={"Authorization": f"Bearer {token}"})


@dataclass(frozen=True)
class StreamedEvent:
    event_id: int
    type: str
    data: dict[str, Any]  # the event's JSON


class EventStreamReader:
    """Reads ``/api/v1/events`` (Server-Sent Events) on a thread, as a browser's EventSource would."""

    def __init__(self, client: httpx.Client, last_event_id: int | None = None, query: str = "") -> None:
        self.events: list[StreamedEvent] = []
        self.status: int | None = None
        self.connected = threading.Event()
        self._lock = threading.Lock()
        self._client = client
        self._response: httpx.Response | None = None
        headers = {} if last_event_id is None else {"Last-Event-ID": str(last_event_id)}
        self._thread = threading.Thread(target=self._read, args=(f"/api/v1/events{query}", headers), daemon=True)
        self._thread.start()
        wait_until(self.connected.is_set, timeout=30, what="the event stream to open")

    def _read(self, path: str, headers: dict[str, str]) -> None:
        fields: dict[str, str] = {}
        try:
            with self._client.stream("GET", path, headers=headers, timeout=httpx.Timeout(30, read=None)) as response:
                self._response, self.status = response, response.status_code
                self.connected.set()
                for line in response.iter_lines():
                    if line.startswith(":"):
                        continue
                    if line:
                        name, _, value = line.partition(":")
                        fields[name] = value[1:] if value.startswith(" ") else value
                        continue
                    if "data" in fields:
                        data = json.loads(fields["data"])
                        event = StreamedEvent(int(fields["id"]), fields.get("event", "message"), data)
                        with self._lock:
                            self.events.append(event)
                    fields = {}
        except (httpx.HTTPError, RuntimeError):  # closed by close(), or the server went away
            pass
        finally:
            self.connected.set()

    def snapshot(self) -> list[StreamedEvent]:
        with self._lock:
            return list(self.events)

    def wait_for(self, predicate: Callable[[StreamedEvent], bool], timeout: float = 30.0) -> StreamedEvent:
        def found() -> StreamedEvent | None:
            return next((e for e in self.snapshot() if predicate(e)), None)

        event = wait_until(found, timeout=timeout, what="an event on the stream")
        assert event is not None
        return event

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
        self._thread.join(timeout=10)


@dataclass
class Stack:
    """One test's world: a fresh migrated database and a private secured broker."""

    postgres: PostgresServer
    database_url: str
    broker: MosquittoBroker
    workdir: Path
    ingest_password: str = field(default_factory=broker_auth.new_password)
    extra_accounts: dict[str, str] = field(default_factory=dict)
    ingestors: list[IngestorProcess] = field(default_factory=list)
    apis: list[ApiProcess] = field(default_factory=list)

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.database_url, autocommit=True)

    def _broker_hashes(self, conn: psycopg.Connection) -> dict[str, str]:
        service = {broker_auth.INGEST_ACCOUNT: broker_auth.hash_password(self.ingest_password)}
        return provisioning.broker_password_hashes(conn, {**service, **self.extra_accounts})

    def start_broker(self) -> None:
        with self.connect() as conn:
            self.broker.write_auth(self._broker_hashes(conn))
        self.broker.start()

    def provision(self, count: int, prefix: str = "dev") -> list[DeviceCredential]:
        return self.provision_ids([f"{prefix}-{i:03d}" for i in range(count)])

    def provision_ids(
        self, device_ids: list[str], details: dict[str, dict[str, object]] | None = None
    ) -> list[DeviceCredential]:
        """Register devices (with ``details[device_id]``: place, ward, metadata) and let the broker know them."""
        with self.connect() as conn:
            made = [provisioning.provision_device(conn, d, **(details or {}).get(d, {})) for d in device_ids]
            self.broker.write_auth(self._broker_hashes(conn))
        self.broker.reload()
        return [DeviceCredential(d.device_id, d.password) for d in made]

    def broker_only_account(self, username: str) -> str:
        """Credentials the broker accepts for a device the registry does not know."""
        password = broker_auth.new_password()
        self.extra_accounts[username] = broker_auth.hash_password(password)
        with self.connect() as conn:
            self.broker.write_auth(self._broker_hashes(conn))
        self.broker.reload()
        return password

    def ingest_url(self, password: str | None = None) -> str:
        return self.broker.url(broker_auth.INGEST_ACCOUNT, password or self.ingest_password)

    def settings(self, client_id: str = "test-ingest") -> Settings:
        return Settings(
            database_url=self.database_url,
            mqtt_url=self.ingest_url(),
            ingest=IngestSettings(client_id=client_id, metrics_port=0, retry_max_s=1.0),
        )

    def start_ingestor(
        self,
        client_id: str = "test-ingest",
        mqtt_url: str | None = None,
        wait_subscribed: bool = True,
        extra_env: dict[str, str] | None = None,
    ) -> IngestorProcess:
        """Start ``python -m ingest``; by default wait until its subscription is in place."""
        port = free_port()
        env = {
            **os.environ,
            "URBANPULSE_DATABASE_URL": self.database_url,
            "URBANPULSE_MQTT_URL": mqtt_url or self.ingest_url(),
            "URBANPULSE_INGEST__CLIENT_ID": client_id,
            "URBANPULSE_INGEST__METRICS_PORT": str(port),
            "URBANPULSE_INGEST__RETRY_MAX_S": "1.0",
            **(extra_env or {}),
        }
        process = IngestorProcess(env, self.workdir / f"{client_id}.log", port)
        self.ingestors.append(process)
        if wait_subscribed:
            wait_until(
                lambda: process.metric("urbanpulse_ingest_subscribed") == 1,
                timeout=120,
                what=f"ingestor {client_id} to subscribe",
            )
        return process

    def start_api(self, env: dict[str, str] | None = None) -> ApiProcess:
        """Another copy of the API on this test's database and broker (the ingest account pushes configs)."""
        api = ApiProcess(self.database_url, self.workdir / f"api-{len(self.apis)}.log", self.ingest_url(), env)
        self.apis.append(api)
        return api

    def add_user(self, username: str, role: Role, password: str | None = None) -> str:
        """A person who may log in; returns the password."""
        password = password or f"{username}-pass-{broker_auth.new_password()[:8]}"
        with self.connect() as conn:
            add_user(conn, username, role, password, "test")
        return password

    def link(self, device: DeviceCredential, policy: ResendPolicy | None = None) -> DeviceLink:
        """A started, connected MQTT link for one device (the caller stops it)."""
        link = DeviceLink(
            protocol.MqttEndpoint("127.0.0.1", self.broker.port, False, device.device_id, device.password),
            device.device_id,
            policy=policy,
        )
        link.start()
        wait_until(link.connected.is_set, timeout=60, what=f"device {device.device_id} to connect")
        return link

    def fleet(self, devices: list[DeviceCredential], policy: ResendPolicy | None = None) -> Fleet:
        fleet = Fleet("127.0.0.1", self.broker.port, devices, policy=policy)
        fleet.start(timeout=60)
        return fleet

    def rows(self) -> int:
        with self.connect() as conn:
            row = conn.execute("SELECT count(*) FROM readings").fetchone()
        return int(row[0]) if row else 0

    def wait_rows(self, expected: int, timeout: float = 60.0) -> int:
        return wait_until(lambda: self.rows() >= expected, timeout=timeout, what=f"{expected} rows") and self.rows()

    def quarantine_reasons(self) -> Counter[str]:
        with self.connect() as conn:
            return Counter(dict(conn.execute("SELECT reason, count(*) FROM quarantine GROUP BY reason").fetchall()))

    def close(self) -> None:
        for api in self.apis:
            api.stop()
        for ingestor in self.ingestors:
            ingestor.stop()
        self.broker.stop()


def stream_in_background(
    fleet: Fleet,
    readings_per_device: int,
    per_message: int,
    pause_s: float,
    start: float,
    resume: threading.Event | None = None,
) -> tuple[threading.Thread, threading.Event]:
    """Publish ``readings_per_device`` readings per device, spread over time, from a thread.

    With ``resume``, the second half waits until it is set: a test that interrupts something
    mid-stream then knows the rest is still to come, however long it took to see the first part stored
    (the pauses alone would leave that to this machine's speed).
    """
    steps = readings_per_device // len(basic.SENSOR_KINDS)
    block = basic.generate(len(fleet.links), start, 60.0, steps, seed=7)
    stop = threading.Event()

    def publish() -> None:
        if resume is None:
            fleet.publish_block(block, per_message, stop, pause_s)
            return
        fleet.publish_block(block.steps(0, steps // 2), per_message, stop, pause_s)
        resume.wait()
        fleet.publish_block(block.steps(steps // 2, steps), per_message, stop, pause_s)

    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    return thread, stop


def join_publisher(thread: threading.Thread, timeout: float = 300.0) -> None:
    """Wait for a publishing thread to finish: until then "every pack settled" says nothing of the packs to come."""
    thread.join(timeout=timeout)
    assert not thread.is_alive(), f"the stream was still publishing after {timeout:.0f} s"


def readings_topic(device_id: str) -> str:
    return protocol.readings_topic(device_id)
