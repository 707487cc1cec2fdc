"""Stopping a service cleanly on SIGINT, SIGTERM and SIGHUP: the one signal handling every service shares.

The first signal (Ctrl-C in a terminal, ``systemctl stop``, ``timeout``, a closed terminal) sets
``Shutdown.requested``: the service finishes what it holds, returns, and ``main`` exits 0. A second
signal raises KeyboardInterrupt in the main thread to cut the waiting short - except inside
``Shutdown.shielded()``, where the private servers are being stopped: that work is short and must
not be left half done.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from edge.stop_request import StopRequest

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Shutdown:
    """A process's stop request, set by the first stop signal (through ``StopRequest``: the handler may
    run inside the main thread's own wait on ``requested``)."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self._request = StopRequest(self.requested)
        self._signalled = False  # at once, where ``requested`` is set a moment later by the relay
        self._shielded = 0

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        again = self._signalled or self.requested.is_set()
        if again and not self._shielded:
            raise KeyboardInterrupt(name)
        if not again:
            log.warning("%s: stopping cleanly (again to interrupt the waiting)", name)
        self._signalled = True
        self._request()

    def close(self) -> None:
        self._request.close()

    @contextmanager
    def shielded(self) -> Iterator[None]:
        """Signals only (re)request the stop in here; they never interrupt."""
        self._shielded += 1
        try:
            yield
        finally:
            self._shielded -= 1


@contextmanager
def handle_signals() -> Iterator[Shutdown]:
    """Route the stop signals to a fresh ``Shutdown`` for the duration (main thread only)."""
    shutdown = Shutdown()
    previous = {signum: signal.signal(signum, shutdown.handle) for signum in STOP_SIGNALS}
    try:
        yield shutdown
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        shutdown.close()
