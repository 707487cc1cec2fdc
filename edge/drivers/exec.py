"""Readings from a vendor program: traffic counters and cameras that print counts or speeds.

The program prints one value per line on stdout, as a bare number or JSON ``{"value": x}``.
``read()`` returns the newest value since the previous read. If the program exits or crashes
it is started again after a pause that doubles up to ``max_backoff_s``; lines that are not a
value are counted and skipped. The agent never stops because a vendor program misbehaves.
"""

from __future__ import annotations

import json
import logging
import math
import subprocess
import threading
from collections.abc import Sequence

from edge.protocol import is_number

log = logging.getLogger(__name__)


def parse_value(line: str) -> float | None:
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None
    value = data.get("value") if isinstance(data, dict) else data
    if not is_number(value) or not math.isfinite(value):
        return None
    return float(value)


class ExecDriver:
    def __init__(self, command: Sequence[str], max_backoff_s: float = 30.0, min_backoff_s: float = 0.5) -> None:
        self.command = list(command)
        self.restarts = 0
        self.bad_lines = 0
        self._latest: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._min_backoff = min_backoff_s
        self._max_backoff = max_backoff_s
        self._process: subprocess.Popen[str] | None = None
        self._thread = threading.Thread(target=self._supervise, name=f"exec-{self.command[0]}", daemon=True)
        self._thread.start()

    def read(self, now: float) -> float | None:
        with self._lock:
            value, self._latest = self._latest, None
        return value

    def close(self) -> None:
        self._stop.set()
        if self._process and self._process.poll() is None:
            self._process.terminate()
        self._thread.join(timeout=10)

    def _supervise(self) -> None:
        backoff = self._min_backoff
        while not self._stop.is_set():
            try:
                self._process = subprocess.Popen(self.command, stdout=subprocess.PIPE, text=True, bufsize=1)
            except OSError as error:
                log.error("cannot start %s: %s", self.command[0], error)
            else:
                assert self._process.stdout is not None
                for line in self._process.stdout:
                    value = parse_value(line)
                    with self._lock:
                        if value is None:
                            self.bad_lines += 1
                        else:
                            self._latest = value
                            backoff = self._min_backoff  # it works again
                code = self._process.wait()
                self._process.stdout.close()
                if self._stop.is_set():
                    return
                log.warning("%s exited with %s; restarting in %.1f s", self.command[0], code, backoff)
            self.restarts += 1
            if self._stop.wait(backoff):
                return
            backoff = min(self._max_backoff, backoff * 2)
