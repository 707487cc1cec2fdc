"""systemd's notify protocol (READY=1, WATCHDOG=1), standard library only.

A datagram to the socket named by ``$NOTIFY_SOCKET``; a no-op when not run by systemd. The
watchdog ping is rate-limited to half of ``$WATCHDOG_USEC`` so calling it every loop is cheap.
"""

from __future__ import annotations

import os
import socket
import time


class Notifier:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self._address = "\0" + address[1:] if address.startswith("@") else address  # abstract namespace
        watchdog_us = int(env.get("WATCHDOG_USEC", "0") or 0)
        self._ping_every_s = watchdog_us / 2e6 if watchdog_us else None
        self._last_ping = 0.0

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    def send(self, message: str) -> bool:
        if not self._address:
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            try:
                sock.sendto(message.encode(), self._address)
            except OSError:
                return False
        return True

    def ready(self) -> bool:
        return self.send("READY=1")

    def watchdog(self) -> bool:
        """Ping the watchdog if one is armed and half its period has passed."""
        if self._ping_every_s is None:
            return False
        now = time.monotonic()
        if now - self._last_ping < self._ping_every_s:
            return False
        self._last_ping = now
        return self.send("WATCHDOG=1")
