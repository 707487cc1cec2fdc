"""Fuzz at scale: 100,000 hostile payloads on every device topic through the real stack.

Starts the real stack (private PostgreSQL with durable settings, private Mosquitto, the ingestor
as its own process via ``python -m ingest``), provisions fuzz devices and good devices, and
publishes from publisher processes through ``edge.link.DeviceLink`` (receipts on, as a device
does):

1. a reference: N valid messages of the same shapes (``simulators.hostile`` with no mutation);
2. the fuzz run: N hostile messages (``simulators.hostile``: byte flips, truncation, hostile tokens
   in any field, relative times, junk) on the readings, status, heartbeat and config-ack topics,
   with one counted good pack from a good device after every ten of them.

Each phase is timed from its first publish until the ingestor has acknowledged every message
(its ``urbanpulse_ingest_messages_total`` counter, incremented after each commit). At the end
it checks that the ingestor never exited, that every good reading is stored exactly once, that
every pack got a receipt, and prints the quarantine reasons. Markdown rows for docs/benchmarks.md.

    python bench/bench_fuzz.py                      # 100,000 + 100,000 messages (several minutes)
    python bench/bench_fuzz.py --messages 5000      # a smoke test, not figures to record
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import platform
import shutil
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from bench_ingest import Ingestor  # run as bench/bench_fuzz.py: its folder is on the path

from devstack.stack import LocalStack
from devstack.waiting import wait_until
from edge import protocol
from edge.link import DeviceLink, ResendPolicy
from edge.receipts import Settlement
from simulators import basic
from simulators.hostile import Mutation, hostile_messages

PUBLISHERS = 2
FUZZ_DEVICES_PER_PUBLISHER = 10
GOOD_EVERY = 10  # one good pack after this many hostile messages
GOOD_READINGS_PER_PACK = 8
MAX_UNSETTLED = 2_000  # per publisher: memory stays bounded while the ingestor catches up
# A receipt later than this means lost, not slow; long here so that the figures count work, not resends.
POLICY = ResendPolicy(receipt_timeout_s=900.0, max_interval_s=900.0, unrouted_s=1.0)


def _links(port: int, creds: list[tuple[str, str]]) -> list[DeviceLink]:
    links = [DeviceLink(protocol.MqttEndpoint("127.0.0.1", port, False, d, p), d, policy=POLICY) for d, p in creds]
    for link in links:
        link.start()
    for link in links:
        if not link.connected.wait(60):
            raise TimeoutError(f"{link.device_id} did not connect")
    return links


def _publisher(
    port: int,
    fuzz: list[tuple[str, str]],
    good: list[tuple[str, str]],
    per_device: int,
    mutations: tuple[Mutation, ...],
    seed: int,
    now: float,
    go: threading.Event,  # a multiprocessing Event: set once every publisher is ready
    out: mp.Queue,  # type: ignore[type-arg]
) -> None:
    logging.basicConfig(level=logging.ERROR)  # a device logs every quarantined pack; here that is the point
    fuzz_links, good_links = _links(port, fuzz), _links(port, good)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def settled(outcome: Settlement) -> None:
        with lock:
            outcomes[outcome.value] += 1

    plans = [hostile_messages(link.device_id, per_device, now, seed * 1000 + i, mutations)
             for i, link in enumerate(fuzz_links)]  # fmt: skip
    blocks = basic.generate(len(good_links), now - 2 * 86_400, 1.0, per_device * len(fuzz_links) // GOOD_EVERY + 1)
    out.put("ready")
    go.wait()
    messages = good_readings = packs = step = 0
    for k in range(per_device):
        for link, plan in zip(fuzz_links, plans, strict=True):
            message = plan[k]
            if message.channel == protocol.READINGS_CHANNEL:
                link.publish_pack(message.payload, settled)
                packs += 1
            else:
                link.publish_raw(protocol.device_topic(link.device_id, message.channel), message.payload)
            messages += 1
            if messages % GOOD_EVERY == 0 and mutations != (Mutation.NONE,):
                target = good_links[step % len(good_links)]
                readings = basic.readings_for(blocks, good_links.index(target), step // len(good_links))
                target.publish(readings[:GOOD_READINGS_PER_PACK], settled)
                good_readings += len(readings[:GOOD_READINGS_PER_PACK])
                messages += 1
                packs += 1
                step += 1
            while sum(x.outstanding for x in fuzz_links + good_links) > MAX_UNSETTLED:
                time.sleep(0.005)
    ok = all(link.wait_acknowledged(1800) for link in fuzz_links + good_links)
    resent = sum(link.resent for link in fuzz_links + good_links)
    for link in fuzz_links + good_links:
        link.stop()
    out.put((ok, messages, packs, good_readings, dict(outcomes), resent))


@dataclass(frozen=True)
class Phase:
    seconds: float  # first publish -> the ingestor acknowledged the last message
    messages: int
    packs: int
    good_readings: int
    outcomes: Counter[str]  # packs by settlement
    resent: int

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def run_phase(
    stack: LocalStack,
    ingestor: Ingestor,
    fuzz: list[tuple[str, str]],
    good: list[tuple[str, str]],
    total: int,
    mutations: tuple[Mutation, ...],
    seed: int,
) -> Phase:
    """Publish ``total`` messages from the publishers, timed until the ingestor has acknowledged them all."""
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    per_device = total // (PUBLISHERS * FUZZ_DEVICES_PER_PUBLISHER)
    before = ingestor.metric("urbanpulse_ingest_messages_total")
    now = time.time()
    go = ctx.Event()
    children = [
        ctx.Process(target=_publisher, args=(stack.broker.port, fuzz[i::PUBLISHERS], good[i::PUBLISHERS], per_device,
                                             mutations, seed + i, now, go, out))
        for i in range(PUBLISHERS)
    ]  # fmt: skip
    for child in children:
        child.start()
    assert [out.get(timeout=600) for _ in children] == ["ready"] * PUBLISHERS  # messages made, links connected
    start_at = time.time()
    go.set()
    results = [out.get(timeout=3600) for _ in children]
    for child in children:
        child.join(timeout=60)
    assert all(r[0] for r in results), "a publisher's packs were not all settled"
    messages = sum(r[1] for r in results)
    wait_until(lambda: ingestor.metric("urbanpulse_ingest_messages_total") - before >= messages, timeout=600,
               what="the ingestor to acknowledge every message", interval=0.05)  # fmt: skip
    seconds = time.time() - start_at
    outcomes: Counter[str] = Counter()
    for r in results:
        outcomes.update(r[4])
    return Phase(seconds, messages, sum(r[2] for r in results), sum(r[3] for r in results), outcomes,
                 sum(r[5] for r in results))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000, help="hostile messages (and as many reference ones)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="urbanpulse-bench-fuzz-"))
    workdir.chmod(0o755)
    print(f"UrbanPulse fuzz benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}",
          flush=True)  # fmt: skip
    stack = LocalStack.start(workdir / "stack", durable=True)
    ingestor: Ingestor | None = None
    try:
        n = PUBLISHERS * FUZZ_DEVICES_PER_PUBLISHER
        fuzz = [(c.device_id, c.password) for c in stack.provision([f"fuzz-{i:03d}" for i in range(n)])]
        good = [(c.device_id, c.password) for c in stack.provision([f"good-{i:03d}" for i in range(n)])]
        ingestor = Ingestor(stack, workdir / "ingest.log", "bench-fuzz", log_level="ERROR")
        reference = run_phase(stack, ingestor, fuzz, good, args.messages, (Mutation.NONE,), seed=1)
        with psycopg.connect(stack.postgres.url(), autocommit=True) as conn:  # the reference's rows out of the way
            conn.execute("TRUNCATE readings, quarantine")
        fuzzed = run_phase(stack, ingestor, fuzz, good, args.messages, tuple(Mutation), seed=2)
        alive = ingestor.process.poll() is None
        with psycopg.connect(stack.postgres.url()) as conn:
            stored, distinct = conn.execute(
                "SELECT count(*), count(DISTINCT (r.sensor_id, r.time)) FROM readings r "
                "JOIN sensors s USING (sensor_id) WHERE s.device_id LIKE 'good-%'"
            ).fetchone() or (0, 0)
            reasons = conn.execute("SELECT reason, count(*) FROM quarantine GROUP BY 1 ORDER BY 2 DESC").fetchall()
        status = ingestor.stop()
        ingestor = None
        ref, fz = reference, fuzzed
        print("| measurement | result |\n|---|---|")
        print(f"| reference: {ref.messages:,} valid messages, {ref.packs:,} of them packs | {ref.rate:,.0f} "
              f"messages/s; receipts {dict(ref.outcomes)}; {ref.resent} resends |")  # fmt: skip
        ratio = fz.rate / ref.rate
        print(f"| fuzz: {fz.messages:,} messages, {fz.packs:,} of them packs | {fz.rate:,.0f} messages/s "
              f"= {ratio:.2f} x the reference; receipts {dict(fz.outcomes)}; {fz.resent} resends |")  # fmt: skip
        print(f"| ingestor | {'never exited' if alive else 'EXITED'}; exit status on SIGTERM {status} |")
        print(f"| good readings | {fz.good_readings:,} published, {stored:,} stored, {distinct:,} distinct |")
        print(f"| quarantine entries by reason | {', '.join(f'{r} {c:,}' for r, c in reasons)} |")
        assert alive and status == 0 and stored == distinct == fz.good_readings
        assert sum(fz.outcomes.values()) == fz.packs and "decode_error" not in dict(reasons)
    finally:
        if ingestor is not None:
            ingestor.stop()
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
