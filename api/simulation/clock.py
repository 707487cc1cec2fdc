"""The simulated clock the demo's services run on.

The virtual city publishes a day in minutes; the forecast and alert services must see *its*
time, not the wall clock's. The publishing loop advances this clock as it goes and the services
read it, each from its own thread.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime


class SimClock:
    """Simulated time in Unix seconds, moved forward only, read from any thread."""

    def __init__(self, start: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._now = start

    def advance(self, to: float) -> None:
        """Move to ``to`` (Unix seconds); a time before the current one is ignored."""
        with self._lock:
            self._now = max(self._now, to)

    @property
    def seconds(self) -> float:
        with self._lock:
            return self._now

    def now(self) -> datetime:
        """The services' ``clock()``: the simulated now as an aware UTC datetime."""
        return datetime.fromtimestamp(self.seconds, UTC)
