"""``urbanpulse simulate`` and ``urbanpulse demo``: the virtual city through the whole system.

Starts private PostgreSQL and Mosquitto, provisions one device per site (with its place, ward
and district), runs an ingestor, and publishes the scenario through real device links at the
chosen speed, with a live status line. At the end it waits until everything sent is stored,
and writes the ground truth and a JSON summary when asked.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

import psycopg

from alerts.delivery import Channel, close_channels, open_channels
from alerts.engine import CycleResult as AlertCycle
from alerts.engine import RuleSource
from alerts.engine import run_service as run_alerts
from alerts.queries import fired_and_notified
from api.simulation.api_server import ApiThread, demo_operator
from api.simulation.clock import SimClock
from api.simulation.seed import write_history
from devstack.stack import VENDOR_DEVICE, LocalStack
from forecasting.service import CycleResult, run_service
from ingest.metrics import IngestMetrics, IngestSnapshot
from ingest.service import Ingestor
from runtime.settings import AlertsSettings, ForecastSettings
from runtime.shutdown import Shutdown
from simulators import replay, run, scenarios
from simulators.city import CityConfig, simulate
from simulators.emission import Emitter
from simulators.faults import FaultKind, FaultParams
from simulators.fleet import Fleet
from simulators.sites import Site, city_sites
from simulators.truth import GroundTruth

MAX_AGE_MARGIN_S = 2 * 86_400.0  # admit a historical scenario's readings, with room for a slow run
HISTORY_STEP_S = 300.0  # seeded history: the forecasts read 5-minute buckets anyway
FORECAST_STEP_S = 300.0  # the forecast service issues one forecast per 5-minute bucket
FORECAST_DRAIN_S = 600.0  # at the end, how long the forecasts still owed may take (a hang guard, not a pace)


@dataclass(frozen=True)
class SimulateOptions:
    scenario: str = "normal-day"
    sites: int = 48
    speed: float = 60.0  # simulated seconds per wall second; 0 = as fast as possible
    hours: float | None = None  # the scenario's length unless given
    start: datetime | None = None  # the scenario's date unless given
    ending_now: bool = False  # the demo: replay the window that ends at this moment
    step_s: float = 60.0
    seed: int = 0
    duration_s: float | None = None  # stop after this many wall seconds
    data_dir: Path = Path(".urbanpulse")
    truth_path: Path | None = None
    summary_json: Path | None = None
    faults: dict[FaultKind, FaultParams] | None = None  # sensor-faults: the plan (default: one of each kind)
    history_days: float = 0.0  # simulated days before the scenario written straight to the database
    forecast: bool = False  # run the forecast service on the simulated clock
    api_port: int | None = None  # serve the HTTP API and dashboard on this port (0: any free one)


@dataclass(frozen=True)
class SimulateSummary:
    scenario: str
    sites: int
    sensors: int
    readings_published: int
    readings_stored: int
    duplicates_ignored: int
    messages_quarantined: int
    flood_events: int
    congestion_events: int
    faults_injected: int
    seconds: float
    history_readings: int = 0
    forecasts_issued: int = 0
    forecasts_promised: int = 0  # 5-minute buckets of simulated time the forecast service ran through
    alerts_fired: int = 0
    notifications: int = 0


def city_config(options: SimulateOptions, now: float | None = None) -> CityConfig:
    sites = tuple(city_sites(options.sites, options.seed))
    start = options.start.timestamp() if options.start else None
    if options.ending_now:
        hours = options.hours if options.hours is not None else scenarios.SCENARIOS[options.scenario].default_hours
        start = (((now or time.time()) - hours * 3600) // options.step_s) * options.step_s
    return scenarios.scenario_config(
        options.scenario, sites, start, options.hours, options.step_s, options.seed, options.faults
    )


def write_truth_only(options: SimulateOptions, out: TextIO = sys.stderr) -> GroundTruth:
    """Simulate without publishing (``--no-publish``): the ground truth file is the product."""
    config = city_config(options)
    truth = run.run(config, scenario=options.scenario, progress=_ProgressLine(out, None))
    _finish_line(out)
    if options.truth_path:
        truth.save(options.truth_path)
        print(f"ground truth: {options.truth_path}", file=out)
    return truth


class LiveSystem:
    """Private PostgreSQL + Mosquitto, an ingestor thread and a fleet of device links, started and drained.

    ``shutdown.requested`` (the first Ctrl-C or SIGTERM, or ``--duration``) ends the publishing; then
    everything published is settled and stored, the services stop, and the private servers stop on
    every way out, shielded from further signals while they do.
    """

    def __init__(self, data_dir: Path, out: TextIO, shutdown: Shutdown | None = None) -> None:
        self.out = out
        self.started = time.monotonic()
        self._shutdown = shutdown or Shutdown()
        print(f"UrbanPulse: starting private PostgreSQL and Mosquitto in {data_dir}/ ...", file=out)
        self.stack = LocalStack.start(data_dir)
        self.metrics = IngestMetrics()
        self.stop = self._shutdown.requested  # ends the publishing (Ctrl-C, SIGTERM, --duration)
        self._ingest_stop = threading.Event()  # ends the ingestor, once everything is stored
        self.fleet: Fleet | None = None
        self._ingest: threading.Thread | None = None
        self.clock = SimClock()  # simulated time, as far as the fleet has published; the services read it
        self.forecasts: list[CycleResult] = []
        self.forecasts_from: float | None = None  # simulated time the forecast service started at
        self._services_stop = threading.Event()  # ends the forecast and alert services
        self._forecaster: threading.Thread | None = None
        self.alert_cycles: list[AlertCycle] = []
        self._alerter: threading.Thread | None = None
        self._alert_channels: dict[str, Channel] = {}
        self.alerts_fired = self.notifications = 0
        self._api: ApiThread | None = None

    def connect(self, sites: list[Site], max_age_s: float, bare_devices: Sequence[str] = ()) -> Fleet:
        """Provision ``sites`` (with their places) and ``bare_devices``, start the ingestor, connect them all."""
        credentials = self.stack.provision_sites(sites, extra=[*bare_devices, VENDOR_DEVICE])
        env_file = self.stack.write_env_file(credentials[-1])
        print(f"  PostgreSQL  127.0.0.1:{self.stack.postgres.port}   Mosquitto  127.0.0.1:{self.stack.broker.port}",
              file=self.out)  # fmt: skip
        print(f"  connection details and a free test device: source {env_file}", file=self.out)
        ingestor = Ingestor(self.stack.settings(max_age_s=max_age_s), self.metrics)
        self._ingest = threading.Thread(target=ingestor.run, args=(self._ingest_stop,), name="ingestor", daemon=True)
        self._ingest.start()
        self.fleet = Fleet("127.0.0.1", self.stack.broker.port, credentials[:-1])
        self.fleet.start(timeout=120)
        return self.fleet

    def seed_history(self, config: CityConfig, days: float) -> int:
        """Write ``days`` of the city before ``config`` straight into the database (5-minute steps)."""
        history = CityConfig(config.sites, config.start - days * 86_400, days * 86_400, HISTORY_STEP_S, config.seed)
        print(f"  seeding {days:g} days of history straight into the database ...", file=self.out, flush=True)
        with psycopg.connect(self.stack.postgres.url()) as conn:
            return write_history(conn, simulate(history))

    def start_forecasts(self) -> None:
        """The forecast service on the simulated clock: a forecast per completed 5-minute bucket."""
        # 21 days: what the water model learns best from; every bucket issued, however late the machine
        settings = ForecastSettings(every_s=0.5, history_days=21.0, catch_up=100_000)
        self.forecasts_from = self.clock.seconds
        self._forecaster = threading.Thread(
            target=run_service, name="forecaster", daemon=True,
            args=(self.stack.postgres.url(), settings, self._services_stop, self.clock.now, self.forecasts.append,
                  self.clock.now()))  # fmt: skip
        self._forecaster.start()

    def start_alerts(self) -> None:
        """The alert engine on the simulated clock, with the shipped rules; notifications go to the
        broker's alerts topics and the CAP feed (``mosquitto_sub -t 'urbanpulse/v1/#'`` shows them)."""
        self._alert_channels = open_channels(self.stack.alerts_mqtt_url(), "urbanpulse-demo-alerts")
        args = (self.stack.postgres.url(), RuleSource(None), AlertsSettings(every_s=0.5), self._alert_channels,
                self._services_stop, self.clock.now, self.alert_cycles.append)  # fmt: skip
        self._alerter = threading.Thread(target=run_alerts, args=args, name="alerts", daemon=True)
        self._alerter.start()

    def start_api(self, port: int) -> None:
        """The HTTP API and dashboard, with a demo operator whose password is made for this run."""
        login = demo_operator(self.stack.postgres.url())
        self._api = ApiThread(self.stack.settings(), port)
        self._api.start()
        print(f"  dashboard and API  {self._api.url}/   (OpenAPI: {self._api.url}/docs)", file=self.out)
        print(f"  log in as {login.username} / {login.password}   (operator: acknowledge, assign, silence)",
              file=self.out)  # fmt: skip

    def alert_counts(self) -> tuple[int, int]:
        """(alerts that fired, notifications delivered) so far."""
        with psycopg.connect(self.stack.postgres.url()) as conn:
            return fired_and_notified(conn)

    def forecasts_promised(self) -> int:
        """Issues owed by the simulated time covered: one per 5-minute bucket since the service started."""
        if self.forecasts_from is None:
            return 0
        return int(self.clock.seconds // FORECAST_STEP_S - self.forecasts_from // FORECAST_STEP_S) + 1

    def stop_after(self, seconds: float | None) -> None:
        if seconds is not None:
            timer = threading.Timer(seconds, self.stop.set)
            timer.daemon = True
            timer.start()

    def drain_and_stop(self) -> tuple[int, IngestSnapshot]:
        """Wait until every published pack is settled by the server's receipt, then shut everything down.

        A second Ctrl-C cuts the waiting short; nothing interrupts the stopping of the servers.
        """
        published = self.fleet.published_readings if self.fleet else 0
        self.stop.set()
        try:
            if self.fleet is not None and not self.fleet.wait_acknowledged(timeout=60):
                print("\nwarning: some packs have no receipt after 60 s; they are counted as not stored", file=self.out)
            self._finish_forecasts()
        except KeyboardInterrupt:
            print("\ninterrupted: stopping without waiting for the last receipts and forecasts", file=self.out)
        finally:
            with self._shutdown.shielded():
                self._stop_all()
        return published, self.metrics.snapshot()

    def _finish_forecasts(self) -> None:
        """Stop the services; the forecast service first issues every bucket still owed (a busy machine
        issues them late, never skips them): wait for it, however slow."""
        self._services_stop.set()
        if self._forecaster is not None:
            self._forecaster.join(timeout=FORECAST_DRAIN_S)
            if self._forecaster.is_alive():
                print(f"\nwarning: forecasts still owed after {FORECAST_DRAIN_S:g} s; stopping", file=self.out)

    def _stop_all(self) -> None:
        try:
            if self.fleet is not None:
                self.fleet.stop()
            self._services_stop.set()
            for worker in (self._forecaster, self._alerter):
                if worker is not None:
                    worker.join(timeout=60)
            close_channels(self._alert_channels)
            if self._api is not None:
                self._api.stop()
            if self._alerter is not None:
                self.alerts_fired, self.notifications = self.alert_counts()
            self._ingest_stop.set()
            if self._ingest is not None:
                self._ingest.join(timeout=30)
        finally:
            self.stack.stop()


def run_simulation(
    options: SimulateOptions, out: TextIO = sys.stderr, shutdown: Shutdown | None = None
) -> SimulateSummary:
    config = city_config(options)
    sites = list(config.sites)
    system = LiveSystem(options.data_dir, out, shutdown)
    truth: GroundTruth | None = None
    history_readings = 0
    try:
        fleet = system.connect(sites, time.time() - config.start + MAX_AGE_MARGIN_S)
        pace = f"{options.speed:g}x" if options.speed > 0 else "full speed"
        began = datetime.fromtimestamp(config.start, scenarios.HCMC)
        print(f"  scenario {options.scenario}: {len(sites)} sites, {config.duration_s / 3600:g} h from "
              f"{began:%Y-%m-%d %H:%M} (UTC+7) at {pace}; Ctrl-C stops", file=out)  # fmt: skip
        if options.history_days > 0 and not system.stop.is_set():
            history_readings = system.seed_history(config, options.history_days)
        system.clock.advance(config.start)
        if options.forecast:
            system.start_forecasts()
            system.start_alerts()
        if options.api_port is not None:
            system.start_api(options.api_port)
        system.stop_after(options.duration_s)
        printer = _ProgressLine(out, system.metrics, system)

        def progress(p: run.Progress) -> None:
            system.clock.advance(p.sim_time)  # the services' now, then the status line
            printer(p)

        truth = run.run(config, fleet.send, options.speed, options.scenario, system.stop, progress)
    except KeyboardInterrupt:
        system.stop.set()
        print("\nstopping ...", file=out)
    finally:
        _finish_line(out)
        published, final = system.drain_and_stop()
    events = truth.events if truth else []
    summary = SimulateSummary(
        scenario=options.scenario,
        sites=len(sites),
        sensors=len(truth.sensors) if truth else 0,
        readings_published=published,
        readings_stored=final.readings_stored,
        duplicates_ignored=final.readings_duplicate,
        messages_quarantined=final.quarantined,
        flood_events=sum(e.kind == "flood" for e in events),
        congestion_events=sum(e.kind == "congestion" for e in events),
        faults_injected=len(truth.faults) if truth else 0,
        seconds=round(time.monotonic() - system.started, 1),
        history_readings=history_readings,
        forecasts_issued=len(system.forecasts),
        forecasts_promised=system.forecasts_promised(),
        alerts_fired=system.alerts_fired,
        notifications=system.notifications,
    )
    _report(summary, out)
    if options.truth_path and truth is not None:
        truth.save(options.truth_path)
        print(f"ground truth: {options.truth_path}", file=out)
    if options.summary_json:
        options.summary_json.write_text(json.dumps(asdict(summary), indent=2) + "\n")
    return summary


def run_replay(
    source: Path,
    speed: float,
    data_dir: Path,
    summary_json: Path | None,
    out: TextIO = sys.stderr,
    shutdown: Shutdown | None = None,
) -> SimulateSummary:
    """Stream a recording (``simulators.replay``) through the devices that measured it."""
    recording = replay.load(source)
    system = LiveSystem(data_dir, out, shutdown)
    try:
        age = time.time() - float(recording.times[0]) + MAX_AGE_MARGIN_S
        fleet = system.connect([], age, bare_devices=recording.devices)  # a recording knows no places
        print(f"  replaying {len(recording.sensors)} sensors, {len(recording.times)} time steps at "
              f"{f'{speed:g}x' if speed > 0 else 'full speed'}", file=out)  # fmt: skip
        emitter = Emitter(recording.sensors, [])
        pacer = run.Pacer(float(recording.times[0]), speed, system.stop)
        progress = _ProgressLine(out, system.metrics)
        span = max(float(recording.times[-1] - recording.times[0]), 1.0)
        sent = 0
        for k, when in enumerate(recording.times):
            if not pacer.wait(float(when)):
                break
            sent += fleet.send(emitter.step(float(when), recording.values[:, k]))
            progress(run.Progress(float(when), (when - recording.times[0]) / span, sent, fleet.published_messages, 0))
    except KeyboardInterrupt:
        system.stop.set()
    finally:
        _finish_line(out)
        published, final = system.drain_and_stop()
    summary = SimulateSummary("replay", len(recording.devices), len(recording.sensors), published,
                              final.readings_stored, final.readings_duplicate, final.quarantined, 0, 0, 0,
                              round(time.monotonic() - system.started, 1))  # fmt: skip
    _report(summary, out)
    if summary_json:
        summary_json.write_text(json.dumps(asdict(summary), indent=2) + "\n")
    return summary


def _report(summary: SimulateSummary, out: TextIO) -> None:
    print(
        f"done: published {summary.readings_published:,}, stored {summary.readings_stored:,} "
        f"(+{summary.duplicates_ignored:,} duplicates ignored), quarantined {summary.messages_quarantined:,}; "
        f"{summary.flood_events} floods, {summary.congestion_events} jams"
        + (
            f"; {summary.forecasts_issued} of {summary.forecasts_promised} forecasts issued"
            if summary.forecasts_promised
            else ""
        )
        + (
            f"; {summary.alerts_fired} alerts fired, {summary.notifications} notifications sent"
            if summary.alerts_fired
            else ""
        ),
        file=out,
    )


class _ProgressLine:
    """One status line, rewritten in place on a terminal, at most twice a second."""

    def __init__(self, out: TextIO, metrics: IngestMetrics | None, system: LiveSystem | None = None) -> None:
        self.out, self.metrics, self.system, self.last = out, metrics, system, 0.0

    def __call__(self, p: run.Progress) -> None:
        now = time.monotonic()
        if now - self.last < 0.5 and p.fraction < 1.0:
            return
        self.last = now
        when = datetime.fromtimestamp(p.sim_time, scenarios.HCMC)
        line = f"  {when:%m-%d %H:%M} {min(p.fraction, 1.0):6.1%}  sent {p.readings:>10,}  events {p.events_so_far:>4}"
        if self.metrics is not None:
            m = self.metrics.snapshot()
            line += f"  stored {m.readings_stored:>10,}  quarantined {m.quarantined:>5,}  backlog {m.unacked:>6,}"
        if self.system is not None and self.system.forecasts_from is not None:  # the service is on: say so
            issued = self.system.forecasts
            likely = f"{issued[-1].likely_alarms:>3}" if issued else "  -"  # "-": the first fit is under way
            line += f"  forecasts {len(issued):>4}  likely alarms {likely}"
        if self.system is not None and self.system.alert_cycles:
            line += f"  open alerts {self.system.alert_cycles[-1].open_alerts:>3}"
        if self.out.isatty():
            print("\r" + line, end="", file=self.out, flush=True)
        else:
            print(line, file=self.out, flush=True)


def _finish_line(out: TextIO) -> None:
    if out.isatty():
        print(file=out)
