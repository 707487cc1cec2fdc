"""Tipping-bucket rain gauge: bucket tips counted from GPIO edges, reported as rain per interval.

The counting logic is pure (``on_edge`` takes a timestamp), so it is tested with injected
edges; on a Raspberry Pi the edges come from libgpiod when its Python binding is installed
(``apt install python3-libgpiod``), which is optional and imported only when used. A reed
switch bounces, so edges closer than ``debounce_s`` to the last counted tip are ignored.
"""

from __future__ import annotations

import threading
from typing import Any


class TippingBucket:
    """Driver: ``read()`` returns rain depth in mm since the previous read (0.0 when dry)."""

    def __init__(self, mm_per_tip: float = 0.2, debounce_s: float = 0.05) -> None:
        self.mm_per_tip = mm_per_tip
        self.debounce_s = debounce_s
        self.bounces_ignored = 0
        self._tips = 0
        self._last_tip: float | None = None
        self._lock = threading.Lock()

    def on_edge(self, timestamp: float) -> None:
        """One falling edge at ``timestamp`` (seconds, any monotonic clock)."""
        with self._lock:
            if self._last_tip is not None and timestamp - self._last_tip < self.debounce_s:
                self.bounces_ignored += 1
                return
            self._last_tip = timestamp
            self._tips += 1

    def read(self, now: float) -> float | None:
        with self._lock:
            tips, self._tips = self._tips, 0
        return round(tips * self.mm_per_tip, 4)


def watch_gpio(bucket: TippingBucket, chip: str, line: int, stop: threading.Event) -> threading.Thread:
    """Feed ``bucket`` from a GPIO line's falling edges with libgpiod (v2 Python API)."""
    try:
        import gpiod  # type: ignore[import-not-found]  # optional, Raspberry Pi only
        from gpiod.line import Edge  # type: ignore[import-not-found]
    except ImportError as error:
        raise RuntimeError("tipping-bucket on GPIO needs libgpiod's Python binding (python3-libgpiod)") from error

    def run() -> None:
        settings: Any = {line: gpiod.LineSettings(edge_detection=Edge.FALLING)}
        with gpiod.request_lines(chip, consumer="urbanpulse-rain", config=settings) as request:
            while not stop.is_set():
                if request.wait_edge_events(timeout=0.5):
                    for event in request.read_edge_events():
                        bucket.on_edge(event.timestamp_ns / 1e9)

    thread = threading.Thread(target=run, name="gpio-rain", daemon=True)
    thread.start()
    return thread
