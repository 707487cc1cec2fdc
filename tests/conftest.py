"""Session-wide real services: one private PostgreSQL cluster (a fresh database per test) and a
private Mosquitto per test, all on free loopback ports in temporary folders."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.mosquitto import MosquittoBroker
from devstack.postgres import PostgresOptions, PostgresServer
from storage.migrate import migrate
from tests.harness import ApiProcess, IngestorProcess, Stack

TEMPLATE = "urbanpulse_template"


@pytest.fixture(autouse=True)
def clean_environment() -> Iterator[None]:
    """Each test starts without URBANPULSE_* settings (a developer's shell may export the demo's)
    and whatever a test puts in the environment is gone after it."""
    saved = dict(os.environ)
    for name in [n for n in os.environ if n.startswith("URBANPULSE_") and n != "URBANPULSE_REQUIRE_TIMESCALE"]:
        del os.environ[name]
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    # Not under pytest's tmp_path: when the suite runs as root, the server runs as the
    # 'postgres' account, which must be able to reach its folder.
    base = Path(tempfile.mkdtemp(prefix="urbanpulse-pg-"))
    server = PostgresServer(base, PostgresOptions(durable=False, max_connections=200))
    server.start()
    server.create_database(TEMPLATE)
    migrate(server.url(TEMPLATE))
    yield server
    server.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def database_url(postgres: PostgresServer) -> str:
    """A fresh, migrated database for one test (a copy of the migrated template)."""
    return postgres.create_database(f"t_{uuid.uuid4().hex[:12]}", template=TEMPLATE)


@contextlib.contextmanager
def open_stack(postgres: PostgresServer, database_url: str) -> Iterator[Stack]:
    """A private broker beside the database, torn down after; the services' logs printed on the way out
    (pytest shows them only when the test failed)."""
    workdir = Path(tempfile.mkdtemp(prefix="urbanpulse-test-"))
    workdir.chmod(0o755)  # the broker may run as the mosquitto account
    broker = MosquittoBroker(workdir / "mosquitto")
    world = Stack(postgres, database_url, broker, workdir)
    world.start_broker()
    try:
        yield world
    finally:
        world.close()
        logged: list[IngestorProcess | ApiProcess] = [*world.ingestors, *world.apis]
        for process in logged:
            print(f"--- {process.log_path.name} (tail) ---\n{process.log_text()[-4000:]}")
        if broker.log_path.exists():
            print(f"--- mosquitto.log (tail) ---\n{broker.log_path.read_text(errors='replace')[-3000:]}")
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def stack(postgres: PostgresServer, database_url: str) -> Iterator[Stack]:
    with open_stack(postgres, database_url) as world:
        yield world
