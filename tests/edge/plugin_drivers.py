"""A plug-in driver for agent tests, loaded by name (``tests.edge.plugin_drivers:LoggedRamp``)."""

from __future__ import annotations

from pathlib import Path


class LoggedRamp:
    """Values 1, 2, ... up to ``limit``, each logged with its time so tests hold the ground truth.

    The count continues from the log, so a restarted agent does not sample again.
    """

    def __init__(self, log: str, limit: int) -> None:
        self._log = Path(log)
        self._limit = limit
        self._count = len(self._log.read_text().splitlines()) if self._log.exists() else 0

    def read(self, now: float) -> float | None:
        if self._count >= self._limit:
            return None
        self._count += 1
        with self._log.open("a") as out:
            out.write(f"{now!r} {self._count}\n")
        return float(self._count)
