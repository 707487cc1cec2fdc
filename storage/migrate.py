"""Apply the ordered SQL migrations once, under an advisory lock, for the engine at hand.

Files are ``NNNN_name.sql`` (every engine) or ``NNNN_name.{timescale,postgres}.sql`` (one
variant per engine, same version). Each file runs in its own transaction and is recorded in
``schema_migrations``; a second ``migrate`` is a no-op, and two processes starting together
serialise on the lock instead of racing (telegraf's postgresql output does the same).
"""

from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

log = logging.getLogger(__name__)

# Arbitrary but fixed: "urbanpulse" folded into 63 bits. Every process must use the same key.
MIGRATION_LOCK_KEY = 0x7572_6261_6E70_756C
_FILE = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)(?:\.(?P<engine>timescale|postgres))?\.sql$")


class Engine(enum.StrEnum):
    POSTGRES = "postgres"
    TIMESCALE = "timescale"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations(engine: Engine) -> list[Migration]:
    """The migrations for ``engine`` in version order, read from the package's SQL files."""
    chosen: dict[int, Migration] = {}
    folder = resources.files("storage") / "migrations"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        match = _FILE.match(entry.name)
        if not match or match.group("engine") not in (None, engine.value):
            continue
        version = int(match.group("version"))
        if version in chosen:
            raise RuntimeError(f"two migrations share version {version}: {chosen[version].name}, {entry.name}")
        chosen[version] = Migration(version, match.group("name"), entry.read_text())
    return [chosen[v] for v in sorted(chosen)]


def detect_engine(conn: psycopg.Connection) -> Engine:
    """TimescaleDB when the extension is installed or installable on this server."""
    row = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()
    return Engine.TIMESCALE if row else Engine.POSTGRES


def migrate(conninfo: str) -> list[Migration]:
    """Bring the database at ``conninfo`` up to date; returns the migrations applied now."""
    # Nothing here repeats enough to gain from server-side prepared statements, and poolers
    # or single-session engines (PGlite) may share their names across connections.
    with psycopg.connect(conninfo, autocommit=True, prepare_threshold=None) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            return _apply_pending(conn)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))


def _apply_pending(conn: psycopg.Connection) -> list[Migration]:
    conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version integer PRIMARY KEY,
               name text NOT NULL,
               engine text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )
    recorded = conn.execute("SELECT engine FROM schema_migrations LIMIT 1").fetchone()
    engine = Engine(recorded[0]) if recorded else detect_engine(conn)
    done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    applied = []
    for migration in available_migrations(engine):
        if migration.version in done:
            continue
        log.info("applying migration %04d_%s (%s)", migration.version, migration.name, engine.value)
        with conn.transaction():
            conn.execute(migration.sql.encode())
            conn.execute(
                "INSERT INTO schema_migrations (version, name, engine) VALUES (%s, %s, %s)",
                (migration.version, migration.name, engine.value),
            )
        applied.append(migration)
    return applied


def current_engine(conn: psycopg.Connection) -> Engine:
    """The engine the schema was migrated for (raises LookupError before the first migrate)."""
    row = conn.execute("SELECT engine FROM schema_migrations LIMIT 1").fetchone()
    if row is None:
        raise LookupError("the database has not been migrated: run `urbanpulse db migrate`")
    return Engine(row[0])
