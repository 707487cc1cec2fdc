"""What the device knows about its own health: clock sync, disk, temperature, uptime.

Standard library only. The kernel's NTP state comes from ``adjtimex(2)`` (through ctypes):
``TIME_ERROR`` means the clock is not synchronised. A Raspberry Pi has no real-time clock, so
after a power cut it may boot in 1970 or at its last shutdown time; a time before
``CLOCK_FLOOR`` is impossible and readings are held rather than stamped with it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import shutil
from pathlib import Path

from edge import protocol

VERSION = "0.1.0"
CLOCK_FLOOR = 1_767_225_600.0  # 2026-01-01T00:00:00Z: no reading can be older than this build
_TIME_ERROR = 5  # adjtimex return value: clock not synchronised


class _Timex(ctypes.Structure):
    # struct timex (linux/timex.h), 64-bit layout: the fields we need first, padding for the rest.
    _fields_ = [("modes", ctypes.c_uint), ("_rest", ctypes.c_byte * 204)]


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name, use_errno=True) if name else None
    except OSError:
        return None


def kernel_clock_synchronised() -> bool | None:
    """True/False from adjtimex(2); None where the call is unavailable (not Linux)."""
    libc = _libc()
    if libc is None:
        return None
    try:
        timex = _Timex()
        state = int(libc.adjtimex(ctypes.byref(timex)))  # modes = 0: read only
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != _TIME_ERROR


def clock_state(now: float, synchronised: bool | None) -> str:
    if now < CLOCK_FLOOR:
        return protocol.CLOCK_IMPLAUSIBLE
    return protocol.CLOCK_UNSYNCED if synchronised is False else protocol.CLOCK_SYNCED


def disk_free_bytes(path: Path) -> int | None:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def cpu_temperature_c(zone: Path = Path("/sys/class/thermal/thermal_zone0/temp")) -> float | None:
    try:
        return int(zone.read_text().strip()) / 1000.0
    except (OSError, ValueError):
        return None


def uptime_s(source: Path = Path("/proc/uptime")) -> float:
    try:
        return float(source.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
