"""Failure paths of the write side, driven against the real database."""

from __future__ import annotations

import time

from devstack.waiting import wait_until
from edge import protocol
from tests.harness import Stack


def test_data_the_database_rejects_is_quarantined_and_the_rest_stored(stack: Stack) -> None:
    (device,) = stack.provision(1)
    with stack.connect() as conn:  # stands in for any permanent, data-dependent database refusal
        conn.execute("ALTER TABLE readings ADD CONSTRAINT no_thirteen CHECK (value <> 13.0)")
    stack.start_ingestor()
    link = stack.link(device)
    now = time.time()
    for i, value in enumerate([1.0, 13.0, 2.0]):
        link.publish([protocol.Reading("rainfall", now - 10 + i, value, "mm")])
    assert link.wait_acknowledged(120)
    wait_until(lambda: stack.quarantine_reasons() == {"storage_rejected": 1}, timeout=30, what="the quarantine")
    stack.wait_rows(2)
    with stack.connect() as conn:
        assert [r[0] for r in conn.execute("SELECT value FROM readings ORDER BY time")] == [1.0, 2.0]
        detail = conn.execute("SELECT detail FROM quarantine").fetchone()
    assert detail is not None and "no_thirteen" in detail[0]
    link.stop()
