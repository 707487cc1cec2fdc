"""``python -m edge --config /etc/urbanpulse/edge.toml``: run the edge agent until SIGTERM."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import signal
import sys
import threading
from pathlib import Path

from edge.agent import Agent, SensorSchedule
from edge.config import ConfigError, load_config
from edge.drivers.registry import build_driver
from edge.forwarder import Forwarder
from edge.health import VERSION
from edge.heartbeat import HeartbeatSender
from edge.link import DeviceLink, ResendPolicy
from edge.sd_notify import Notifier
from edge.stop_request import StopRequest
from edge.store import ReadingStore

log = logging.getLogger("edge")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge", description="UrbanPulse edge agent")
    parser.add_argument("--config", type=Path, default=Path("/etc/urbanpulse/edge.toml"))
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    try:
        config = load_config(args.config)
        sensors = [SensorSchedule(s.name, s.interval_s, build_driver(s)) for s in config.sensors]
    except ConfigError as error:
        print(f"urbanpulse edge: {error}", file=sys.stderr)
        return 2
    store = ReadingStore(config.queue_path, config.max_queued_readings, config.durability)
    policy = ResendPolicy(receipt_timeout_s=config.receipt_timeout_s, max_interval_s=config.resend_max_s)
    link = DeviceLink(config.endpoint, config.device_id, version=VERSION, policy=policy)
    forwarder = Forwarder(
        store,
        link,
        readings_per_message=config.readings_per_message,
        max_in_flight=config.max_in_flight,
        max_readings_per_s=config.drain_max_readings_per_s,
    )
    stop = threading.Event()
    request_stop = StopRequest(stop)  # not stop.set() in the handler: it may run inside stop.wait()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: request_stop())
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` prints every thread's stack: a hung device's diagnosis
    link.start()
    try:
        heartbeat = HeartbeatSender(link, store, forwarder, config.heartbeat_s)
        Agent(sensors, store, forwarder, heartbeat=heartbeat, link=link).run(stop, notifier=Notifier())
    finally:
        log.info("stopping: saying goodbye to the broker")
        link.stop()
        store.close()
        request_stop.close()
        log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
