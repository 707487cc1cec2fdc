"""``urbanpulse demo``: the whole system on this machine with a simulated fleet and a live status line."""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from api.stack import VENDOR_DEVICE, LocalStack
from ingest.embedded.waiting import WaitTimeout, wait_until
from ingest.metrics import IngestMetrics
from ingest.service import Ingestor
from simulators import basic
from simulators.fleet import Fleet


@dataclass(frozen=True)
class DemoOptions:
    devices: int = 20
    duration_s: float | None = None  # None: until Ctrl-C
    interval_s: float = 1.0  # each device sends its 4 readings once per interval
    data_dir: Path = Path(".urbanpulse")
    summary_json: Path | None = None
    seed: int = 0


@dataclass(frozen=True)
class DemoSummary:
    readings_published: int
    readings_stored: int
    messages_quarantined: int
    duplicates_ignored: int
    seconds: float


def _stored(metrics: IngestMetrics) -> int:
    return metrics.snapshot().readings_stored


def run_demo(options: DemoOptions, out: TextIO = sys.stderr) -> DemoSummary:
    started = time.monotonic()
    print(f"UrbanPulse demo: starting private PostgreSQL and Mosquitto in {options.data_dir}/ ...", file=out)
    stack = LocalStack.start(options.data_dir)
    stop = threading.Event()
    metrics = IngestMetrics()
    fleet: Fleet | None = None
    ingest_thread: threading.Thread | None = None
    try:
        ids = [f"sim-{i:04d}" for i in range(options.devices)]
        credentials = stack.provision([*ids, VENDOR_DEVICE])
        env_file = stack.write_env_file(credentials[-1])
        print(f"  PostgreSQL  127.0.0.1:{stack.postgres.port}   Mosquitto  127.0.0.1:{stack.broker.port}", file=out)
        print(f"  connection details and a free test device: source {env_file}", file=out)
        ingestor = Ingestor(stack.settings(), metrics)
        ingest_thread = threading.Thread(target=ingestor.run, args=(stop,), name="ingestor", daemon=True)
        ingest_thread.start()
        fleet = Fleet("127.0.0.1", stack.broker.port, credentials[:-1])
        fleet.start()
        print(
            f"  {options.devices} simulated devices publishing every {options.interval_s:g} s; Ctrl-C stops", file=out
        )
        _publish_loop(fleet, metrics, options, out)
    except KeyboardInterrupt:
        print("\nstopping ...", file=out)
    finally:
        summary = _drain_and_stop(stack, fleet, metrics, stop, ingest_thread, started, out)
    if options.summary_json:
        options.summary_json.write_text(json.dumps(summary.__dict__, indent=2) + "\n")
    return summary


def _publish_loop(fleet: Fleet, metrics: IngestMetrics, options: DemoOptions, out: TextIO) -> None:
    tick = 0
    began = time.monotonic()
    last_stored, last_time = 0, began
    while options.duration_s is None or time.monotonic() - began < options.duration_s:
        block = basic.generate(len(fleet.links), time.time(), options.interval_s, 1, seed=options.seed + tick)
        fleet.publish_block(block, readings_per_message=len(basic.SENSOR_KINDS))
        tick += 1
        next_tick = began + tick * options.interval_s
        now = time.monotonic()
        stored = _stored(metrics)
        rate = (stored - last_stored) / max(now - last_time, 1e-9)
        last_stored, last_time = stored, now
        _status(out, fleet.published_readings, stored, rate, metrics)
        time.sleep(max(0.0, next_tick - time.monotonic()))  # pacing the publisher, not synchronising


def _status(out: TextIO, published: int, stored: int, rate: float, metrics: IngestMetrics) -> None:
    now = metrics.snapshot()
    line = (
        f"  published {published:>9,}  stored {stored:>9,}  {rate:>8,.0f} readings/s  "
        f"quarantined {now.quarantined:>5,}  backlog {now.unacked:>6,}"
    )
    if out.isatty():
        print("\r" + line, end="", file=out, flush=True)
    else:
        print(line, file=out, flush=True)


def _drain_and_stop(
    stack: LocalStack,
    fleet: Fleet | None,
    metrics: IngestMetrics,
    stop: threading.Event,
    ingest_thread: threading.Thread | None,
    started: float,
    out: TextIO,
) -> DemoSummary:
    published = fleet.published_readings if fleet else 0
    try:
        if fleet is not None:
            fleet.wait_acknowledged(timeout=30)
            fleet.stop()
        wait_until(lambda: _stored(metrics) >= published, timeout=60, what="the ingestor to store every reading")
    except WaitTimeout as error:
        print(f"\nwarning: {error}", file=out)
    stop.set()
    if ingest_thread is not None:
        ingest_thread.join(timeout=30)
    stack.stop()
    final = metrics.snapshot()
    summary = DemoSummary(
        readings_published=published,
        readings_stored=final.readings_stored,
        messages_quarantined=final.quarantined,
        duplicates_ignored=final.readings_duplicate,
        seconds=round(time.monotonic() - started, 1),
    )
    print(
        f"\ndone: published {summary.readings_published:,}, stored {summary.readings_stored:,}, "
        f"quarantined {summary.messages_quarantined:,}",
        file=out,
    )
    return summary
