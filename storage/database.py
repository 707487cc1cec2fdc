"""One resilient database session for a long-running service.

Connects lazily, prepares the session (staging table), translates psycopg errors once
(``storage.errors``) and drops a broken connection so the next attempt reconnects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import psycopg

from storage.errors import TransientError, classify_database_error

log = logging.getLogger(__name__)
T = TypeVar("T")


class Database:
    def __init__(self, conninfo: str, prepare: Callable[[psycopg.Connection], None] | None = None) -> None:
        self._conninfo = conninfo
        self._prepare = prepare
        self._conn: psycopg.Connection | None = None

    def connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            try:
                conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5)
                if self._prepare:
                    self._prepare(conn)
            except psycopg.Error as error:
                raise classify_database_error(error) from error
            self._conn = conn
        return self._conn

    def run(self, work: Callable[[psycopg.Connection], T]) -> T:
        """Run ``work`` with the connection; psycopg errors come out as Transient/PermanentError."""
        conn = self.connection()
        try:
            return work(conn)
        except psycopg.Error as error:
            classified = classify_database_error(error)
            if isinstance(classified, TransientError) or conn.broken:
                self.close()
            raise classified from error

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:  # a broken connection may fail to close; it is gone either way
                pass
            self._conn = None
