from __future__ import annotations

import sys

from devstack.waiting import wait_until
from edge.drivers.exec import ExecDriver, parse_value
from edge.drivers.tipping_bucket import TippingBucket


def test_tipping_bucket_counts_tips_and_ignores_bounces() -> None:
    bucket = TippingBucket(mm_per_tip=0.2, debounce_s=0.05)
    for t in (0.0, 0.01, 0.02, 1.0, 1.001, 2.5):  # three tips, three contact bounces
        bucket.on_edge(t)
    assert bucket.read(3.0) == 0.6 and bucket.bounces_ignored == 3
    assert bucket.read(4.0) == 0.0  # dry interval: zero rain, not "no reading"


def test_exec_values() -> None:
    assert parse_value("12") == 12.0 and parse_value('{"value": 31.5}') == 31.5
    assert parse_value("NaN") is None and parse_value("true") is None and parse_value("hello") is None


def test_exec_driver_survives_its_program_crashing() -> None:
    program = "import sys; print(7); print('garbage'); print('{\"value\": 8}'); sys.stdout.flush(); sys.exit(3)"
    driver = ExecDriver([sys.executable, "-c", program], min_backoff_s=0.05, max_backoff_s=0.1)
    try:
        wait_until(lambda: driver.restarts >= 2, timeout=60, what="the program to be restarted twice")
        assert driver.read(0.0) == 8.0 and driver.bad_lines >= 2
    finally:
        driver.close()
