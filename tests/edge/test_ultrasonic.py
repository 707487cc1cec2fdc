"""The ultrasonic driver against a pseudo-terminal standing in for the UART."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from edge.drivers.ultrasonic import UltrasonicLevel, parse_frames


def frame(distance_mm: int) -> bytes:
    high, low = divmod(distance_mm, 256)
    return bytes([0xFF, high, low, (0xFF + high + low) & 0xFF])


def test_parser_resyncs_on_garbage_and_drops_bad_checksums() -> None:
    bad = bytearray(frame(1500))
    bad[3] ^= 0x01
    buffer = bytearray(b"\x00\x13" + frame(1200) + bytes(bad) + b"\xff\x01" + frame(1210) + frame(1220)[:2])
    assert list(parse_frames(buffer)) == [1200, 1210]
    assert bytes(buffer) == frame(1220)[:2]  # a partial frame waits for its tail


@pytest.fixture
def uart() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


def test_level_is_reference_minus_median_distance(uart: tuple[int, str]) -> None:
    master, port = uart
    sensor = UltrasonicLevel(port, reference_level_m=3.0, samples=5, timeout_s=2.0)
    sensor.open()  # raw mode before bytes arrive, as on the device (a cooked tty would hold them)
    os.write(master, b"\x42garbage" + frame(1000) + frame(1010) + frame(4000) + frame(990) + frame(1005))
    assert sensor.read(0.0) == pytest.approx(3.0 - 1.005)  # the 4 m outlier does not move the median
    sensor.close()


def test_a_silent_sensor_gives_no_reading(uart: tuple[int, str]) -> None:
    _, port = uart
    sensor = UltrasonicLevel(port, reference_level_m=3.0, timeout_s=0.3)
    assert sensor.read(0.0) is None
    sensor.close()


def test_only_bad_frames_give_no_reading(uart: tuple[int, str]) -> None:
    master, port = uart
    corrupt = bytearray(frame(1000))
    corrupt[3] ^= 0xFF
    sensor = UltrasonicLevel(port, reference_level_m=3.0, timeout_s=0.3)
    sensor.open()
    os.write(master, bytes(corrupt) * 3)
    assert sensor.read(0.0) is None
    sensor.close()
