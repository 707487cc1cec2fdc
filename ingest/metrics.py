"""Prometheus metrics of one ingestor instance, on its own registry (several can share a process)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True)
class IngestSnapshot:
    messages: int
    readings_stored: int
    readings_duplicate: int
    quarantined: int
    unacked: int


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.messages = Counter("urbanpulse_ingest_messages", "MQTT messages processed and acknowledged", registry=r)
        self.readings_stored = Counter("urbanpulse_ingest_readings_stored", "readings newly written", registry=r)
        self.readings_duplicate = Counter(
            "urbanpulse_ingest_readings_duplicate", "readings already stored (redelivery), ignored", registry=r
        )
        self.quarantined = Counter(
            "urbanpulse_ingest_quarantined", "messages or records quarantined", ["reason"], registry=r
        )
        self.receipts = Counter(
            "urbanpulse_ingest_receipts", "receipts published to devices (one per device per batch)", registry=r
        )
        self.retries = Counter("urbanpulse_ingest_retries", "transient failures retried", ["stage"], registry=r)
        self.batch_readings = Histogram(
            "urbanpulse_ingest_batch_readings",
            "readings per committed batch",
            buckets=(1, 10, 100, 1_000, 5_000, 10_000, 25_000, 50_000, 100_000),
            registry=r,
        )
        self.commit_seconds = Histogram(
            "urbanpulse_ingest_commit_seconds",
            "time to write and commit one batch",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=r,
        )
        self.unacked = Gauge("urbanpulse_ingest_unacked_messages", "received, not yet acknowledged", registry=r)
        self.subscribed = Gauge(
            "urbanpulse_ingest_subscribed", "1 while connected to the broker and subscribed", registry=r
        )
        self.rollups_materialized_to = Gauge(
            "urbanpulse_rollups_materialized_to_seconds",
            "plain PostgreSQL: the rollups' watermark (Unix time) after this ingestor's last refresh",
            registry=r,
        )

    def snapshot(self) -> IngestSnapshot:
        """Current totals, read through the registry (the public way to read prometheus metrics)."""

        def total(name: str) -> int:
            return int(
                sum(
                    sample.value
                    for metric in self.registry.collect()
                    for sample in metric.samples
                    if sample.name == name
                )
            )

        return IngestSnapshot(
            messages=total("urbanpulse_ingest_messages_total"),
            readings_stored=total("urbanpulse_ingest_readings_stored_total"),
            readings_duplicate=total("urbanpulse_ingest_readings_duplicate_total"),
            quarantined=total("urbanpulse_ingest_quarantined_total"),
            unacked=total("urbanpulse_ingest_unacked_messages"),
        )
