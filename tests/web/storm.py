"""The monsoon storm on today's clock, for the dashboard tests and the benchmark.

The scenario is simulated at its own default date (the same storm the alert tests check), then
its timeline is shifted so that its first flood alerts arrive shortly before now: weeks
of history are written as the ingestor stores them, then each live step publishes the step's
readings from every site's device through the real broker and ingestor, and runs the forecast
service and the alert engine at that time. Every reading lies in the wall clock's past (the last
step allowed is now), so the API sees recent data - start it with ``STALE_AFTER_ENV`` so readings
from the live window's start count as current - and the browser sees alerts appear as they would
in the operations centre.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import psycopg

from alerts.engine import DEFAULT_RULES, run_cycle
from alerts.rules import RuleBook, load_rules
from api.simulation.seed import write_history
from devstack.stack import site_details
from devstack.waiting import wait_until
from forecasting.service import ServiceState, issue_cycle
from runtime.settings import AlertsSettings, ForecastSettings
from simulators.city import Simulation, simulate
from simulators.emission import Emitter
from simulators.fleet import Fleet
from simulators.scenarios import scenario_config
from simulators.sites import Site, city_sites
from tests.harness import Stack

STEP = 300.0
HISTORY_DAYS = 15.0
# hours into the scenario when the live steps begin: before any flood-forecast alert, so the browser sees one
# arrive. With the street-flood outlook the first (a street's) comes near 6.1 h and the canals' from 6.7 h,
# the flood watches from the first cycle on
LIVE_FROM_H = 5.25
LIVE_UNTIL_H = 7.5  # give up waiting for a flood warning here; this hour of the scenario is now
# The newest readings are up to the live window's length old (when the page first loads): the API must not
# call them stale.
STALE_AFTER_ENV = {"URBANPULSE_API__STALE_AFTER_S": str(round((LIVE_UNTIL_H - LIVE_FROM_H + 1.0) * 3600))}


@dataclass
class StormCity:
    """The monsoon-storm city on one test's stack; ``now`` is ``LIVE_FROM_H`` into the scenario."""

    stack: Stack
    sites: tuple[Site, ...]
    sim: Simulation
    start: float  # Unix s of the scenario's start
    book: RuleBook
    fleet: Fleet | None = None
    emitter: Emitter | None = None
    t: float = 0.0  # the simulated (and wall) time of the last step run
    forecasts: ServiceState | None = None  # the forecast service's models: fitted once, then updated

    @classmethod
    def build(cls, stack: Stack, n_sites: int = 48) -> StormCity:
        """A city whose live steps end at the wall clock's now (the last one allowed)."""
        sites = tuple(city_sites(n_sites))
        config = scenario_config("monsoon-storm", sites, step_s=STEP)
        back = HISTORY_DAYS * 86_400
        sim = simulate(dataclasses.replace(config, start=config.start - back, duration_s=config.duration_s + back))
        offset = time.time() - (config.start + LIVE_UNTIL_H * 3600)
        offset -= offset % STEP
        shifted = dataclasses.replace(sim, times=sim.times + offset)
        return cls(stack, sites, shifted, config.start + offset, load_rules(DEFAULT_RULES))

    def seed(self) -> None:
        """Register every site's device and write the history up to the first live step."""
        creds = self.stack.provision_ids(
            [s.site_id for s in self.sites], {s.site_id: site_details(s) for s in self.sites}
        )
        self.t = self.start + LIVE_FROM_H * 3600 - STEP
        with psycopg.connect(self.stack.database_url) as conn:
            write_history(conn, self.sim, until=self.t + 1)
            self.cycles(conn, self.t)
        self.stack.start_ingestor()
        self.fleet = self.stack.fleet(creds)
        self.emitter = Emitter(list(self.sim.sensors), [])

    def cycles(self, conn: psycopg.Connection, t: float) -> None:
        # as the service does: fitted at the first cycle, then updated with each new bucket
        settings = ForecastSettings(history_days=HISTORY_DAYS)
        _, self.forecasts = issue_cycle(conn, datetime.fromtimestamp(t, UTC), settings, self.forecasts)
        conn.commit()
        run_cycle(conn, self.book, t, AlertsSettings(), mqtt=False)
        conn.commit()

    def step(self) -> None:
        """One live step: the devices publish the step's readings, the ingestor stores them, forecasts and
        alerts run."""
        assert self.fleet is not None and self.emitter is not None
        self.t += STEP
        assert self.t <= time.time(), "live steps stay in the wall clock's past"
        k = int(np.searchsorted(self.sim.times, self.t))
        expected = int(np.isfinite(self.sim.observed[:, k]).sum())
        with psycopg.connect(self.stack.database_url, autocommit=True) as watch:
            before = stored_at(watch, self.t)
            self.fleet.send(self.emitter.step(self.t, self.sim.observed[:, k]))
            wait_until(lambda: stored_at(watch, self.t) - before >= expected, timeout=60,
                       what="the ingestor to store the step's readings")  # fmt: skip
        with psycopg.connect(self.stack.database_url) as conn:
            self.cycles(conn, self.t)

    def until(self, condition: Callable[[], bool], what: str) -> None:
        """Run live steps until ``condition`` holds (checked after each step), at most to ``LIVE_UNTIL_H``."""
        while not condition():
            if self.t >= self.start + LIVE_UNTIL_H * 3600:
                raise AssertionError(f"the storm ended without {what}")
            self.step()

    def close(self) -> None:
        if self.fleet is not None:
            self.fleet.wait_acknowledged(timeout=30)
            self.fleet.stop()


def stored_at(conn: psycopg.Connection, t: float) -> int:
    row = conn.execute("SELECT count(*) FROM readings WHERE time = to_timestamp(%s)", (t,)).fetchone()
    return int(row[0]) if row else 0


def firing(conn: psycopg.Connection, rule: str) -> list[tuple[int, str]]:
    """(alert_id, device_id) of the rule's firing alerts, oldest first."""
    rows = conn.execute("SELECT alert_id, device_id FROM alerts WHERE rule = %s AND state = 'firing' ORDER BY alert_id",
                        (rule,)).fetchall()  # fmt: skip
    return [(int(r[0]), str(r[1])) for r in rows]


def quiet_water_sensors(conn: psycopg.Connection, n: int) -> list[tuple[str, int, str | None, str | None]]:
    """Up to ``n`` water-level sensors whose devices have no open alert, as (device, sensor, district, ward):
    where a test can raise an alert that is new to the screen."""
    return conn.execute("""SELECT s.device_id, s.sensor_id, d.district, d.ward
                           FROM sensors s JOIN devices d USING (device_id)
                           WHERE s.name = 'water_level' AND NOT EXISTS (SELECT 1 FROM alerts a
                           WHERE a.device_id = s.device_id AND a.state IN ('pending', 'firing', 'acknowledged'))
                           ORDER BY s.device_id LIMIT %s""", (n,)).fetchall()  # fmt: skip


def raise_alert(conn: psycopg.Connection, device_id: str, sensor_id: int, district: str | None, ward: str | None,
                tag: str) -> int:  # fmt: skip
    """Write a firing street-flood alert for one sensor as the alert engine would (its triggers tell the
    live stream); for tests and the benchmark that need an alert at a moment of their choosing."""
    row = conn.execute(
        """INSERT INTO alerts (fingerprint, rule, kind, subject, sensor_id, device_id, district, ward, severity,
                               state, pending_since, fired_at, last_change, value)
           VALUES (%s, 'street-flood', 'threshold', %s, %s, %s, %s, %s, 'severe', 'firing', now(), now(), now(), 0.2)
           RETURNING alert_id""",
        (f"test:{tag}:{sensor_id}", f"sensor:{sensor_id}", sensor_id, device_id, district, ward),
    ).fetchone()
    assert row is not None
    return int(row[0])
