"""Capped exponential backoff, the one schedule every service retries on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """``initial_s`` before the first retry, doubling with every further failure, never above ``max_s``."""

    initial_s: float = 5.0
    max_s: float = 600.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failures (1 = the first)."""
        return float(min(self.max_s, self.initial_s * 2.0 ** min(max(failures - 1, 0), 30)))
