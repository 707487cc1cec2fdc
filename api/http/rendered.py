"""The map's answer, rendered once and served to everyone for a moment (per API process).

Rendering every site with all its sensors costs the database and this process a few hundred
milliseconds at 10,000 sensors, while a wall of dashboards asks for it every few seconds. So each
API copy keeps the rendered JSON (and its gzip) per scope for ``ttl_s``: a fresh entry is served
as is; a stale one is served while one background thread renders the next (stale-while-revalidate),
so no request waits on a render but the first; a live-stream event about alerts, sites or devices
marks every entry stale at once. Nothing here is shared between copies: it is a cache, not state.
"""

from __future__ import annotations

import gzip
import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

log = logging.getLogger(__name__)
GZIP_LEVEL = 5  # most of level 9's gain for a fraction of its time


@dataclass(frozen=True)
class Rendered:
    body: bytes
    gzipped: bytes
    made: float  # time.monotonic() when rendered


class RenderedCache:
    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[Hashable, Rendered] = {}
        self._refreshing: set[Hashable] = set()
        self._lock = threading.Lock()
        self._first: dict[Hashable, threading.Lock] = {}
        self._stale_before = 0.0  # entries made before this are stale whatever their age

    def get(self, key: Hashable, render: Callable[[], str]) -> Rendered:
        """The entry for ``key``, rendering it now only when there is none yet."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and self._fresh(entry, now):
                return entry
            if entry is not None:
                if key not in self._refreshing:
                    self._refreshing.add(key)
                    threading.Thread(target=self._refresh, args=(key, render), daemon=True).start()
                return entry
            first = self._first.setdefault(key, threading.Lock())
        with first:  # one render for the requests that arrive before the first entry exists
            with self._lock:
                entry = self._entries.get(key)
            if entry is None:
                entry = self._store(key, render)
        return entry

    def expire(self) -> None:
        """Everything rendered so far is stale (a change people must see came in)."""
        with self._lock:
            self._stale_before = self._clock()

    def _fresh(self, entry: Rendered, now: float) -> bool:
        return entry.made > self._stale_before and now - entry.made < self.ttl_s

    def _store(self, key: Hashable, render: Callable[[], str]) -> Rendered:
        made = self._clock()
        body = render().encode()
        entry = Rendered(body, gzip.compress(body, GZIP_LEVEL), made)
        with self._lock:
            self._entries[key] = entry
        return entry

    def _refresh(self, key: Hashable, render: Callable[[], str]) -> None:
        try:
            self._store(key, render)
        except Exception as error:  # noqa: BLE001 - the stale entry keeps being served; the next request retries
            log.warning("re-rendering %r failed: %s", key, error)
        finally:
            with self._lock:
                self._refreshing.discard(key)
