"""A real TimescaleDB engine for the suite: TimescaleDB 2.23 on PostgreSQL 17 compiled to WASM
(PGlite), served over the wire protocol by pglite-socket under Node.js on a free loopback port.

``./dev test`` installs it (``npm ci`` in ``engine/``). Missing, the lane is skipped locally but
fails under ``URBANPULSE_REQUIRE_TIMESCALE=1``, which CI sets, so CI can never pass without it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from devstack.ports import free_port

ENGINE = Path(__file__).parent / "engine"


@pytest.fixture(scope="session")
def timescale_url() -> Iterator[str]:
    node = shutil.which("node")
    if node is None or not (ENGINE / "node_modules").is_dir():
        message = f"TimescaleDB engine not installed (need node and `npm ci --prefix {ENGINE}`)"
        if os.environ.get("URBANPULSE_REQUIRE_TIMESCALE") == "1":
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    process = subprocess.Popen(
        [node, "server.mjs", str(port)], cwd=ENGINE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()  # blocks until the engine is listening (or dies)
        if not first_line:
            pytest.fail(f"TimescaleDB engine did not start: {process.stderr.read() if process.stderr else ''}")
        assert json.loads(first_line) == {"listening": port}
        # PGlite accepts any password; psycopg insists on sending one.
        yield make_conninfo(
            host="127.0.0.1", port=port, user="postgres", password="pglite", dbname="postgres", sslmode="disable"
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()


@pytest.fixture(scope="session")
def timescale(timescale_url: str) -> Iterator[psycopg.Connection]:
    from storage.migrate import migrate

    migrate(timescale_url)
    # PGlite is one backend session for every connection: server-side prepared statements of
    # one connection would collide with another's, so none are made.
    with psycopg.connect(timescale_url, autocommit=True, prepare_threshold=None) as conn:
        yield conn
