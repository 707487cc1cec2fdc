"""Waiting on a condition with a deadline: the only way UrbanPulse waits (never a bare sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(TimeoutError):
    pass


def wait_until(probe: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.05) -> T:
    """Call ``probe`` until it returns a truthy value and return it; raise WaitTimeout after ``timeout`` s.

    Exceptions from ``probe`` count as "not yet" (a server still starting refuses
    connections); the last one is chained onto the timeout for diagnosis.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = probe()
            if result:
                return result
        except Exception as error:  # noqa: BLE001 - any failure of the probe means "not ready yet"
            last_error = error
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:.1f} s waiting for {what}") from last_error
        time.sleep(interval)
