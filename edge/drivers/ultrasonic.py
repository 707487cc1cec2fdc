"""Waterproof ultrasonic distance sensors on a UART, turned into water level.

Module family followed: DFRobot A02YYUW / DYP-A02YY (UART output, 9600 baud 8N1). Each
measurement is a 4-byte frame ``0xFF, high, low, checksum`` with distance = high*256 + low
in millimetres and checksum = (0xFF + high + low) & 0xFF. A read oversamples several frames and
takes the median (ripples and a passing leaf give outliers); garbage bytes are skipped by
re-synchronising on 0xFF, frames with a bad checksum are dropped, and a silent sensor yields
no reading rather than a stale one. Water level = reference level - distance (the FIWARE
FloodMonitoring convention: the reference is the sensor's height above the gauge datum).
"""

from __future__ import annotations

import os
import select
import statistics
import termios
import time
import tty
from collections.abc import Iterator

FRAME_HEADER = 0xFF
BAUD = termios.B9600


def parse_frames(buffer: bytearray) -> Iterator[int]:
    """Consume complete frames from ``buffer`` (in place), yielding distances in mm; keeps a partial tail."""
    while True:
        start = buffer.find(FRAME_HEADER)
        if start < 0:
            buffer.clear()
            return
        del buffer[:start]
        if len(buffer) < 4:
            return
        high, low, checksum = buffer[1], buffer[2], buffer[3]
        if (FRAME_HEADER + high + low) & 0xFF == checksum:
            del buffer[:4]
            yield high * 256 + low
        else:
            del buffer[:1]  # not a frame after all: look for the next header


class UltrasonicLevel:
    """Driver: ``read()`` returns the water level in metres, or None when no valid frame arrived."""

    def __init__(self, port: str, reference_level_m: float, samples: int = 5, timeout_s: float = 2.0) -> None:
        self.port = port
        self.reference_level_m = reference_level_m
        self.samples = samples
        self.timeout_s = timeout_s
        self._fd: int | None = None
        self._buffer = bytearray()

    def open(self) -> int:
        """Open the port in raw mode at 9600 baud (done by the first read when not called before)."""
        if self._fd is None:
            fd = os.open(self.port, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
            if os.isatty(fd):
                tty.setraw(fd)
                attributes = termios.tcgetattr(fd)
                attributes[4] = attributes[5] = BAUD  # input and output speed
                termios.tcsetattr(fd, termios.TCSANOW, attributes)
            self._fd = fd
        return self._fd

    def read(self, now: float) -> float | None:
        fd = self.open()
        distances: list[int] = []
        deadline = time.monotonic() + self.timeout_s
        while len(distances) < self.samples:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                break  # silent sensor: report what we have, or nothing
            chunk = os.read(fd, 256)
            if not chunk:
                break
            self._buffer += chunk
            distances += parse_frames(self._buffer)
        if not distances:
            return None
        return round(self.reference_level_m - statistics.median(distances) / 1000.0, 4)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
