"""sensor-faults end to end: every injected fault raises the matching health alarm; healthy sensors
raise none. The virtual fleet publishes through the real broker to a real ingestor; the engine
evaluates every 5 simulated minutes, in step with what the ingestor has stored (lock-step, so the
verdicts do not depend on this machine's speed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import psycopg
import pytest

from alerts.engine import DEFAULT_RULES, run_cycle
from alerts.rules import ContactTier, Offline, load_rules
from api.simulation.seed import write_history
from devstack.stack import site_details
from forecasting.service import ServiceState, issue_cycle
from runtime.settings import AlertsSettings, ForecastSettings
from simulators import run, scenarios
from simulators.city import CityConfig, simulate
from simulators.emission import Action, Outgoing
from simulators.faults import Fault, FaultKind
from simulators.sites import city_sites
from simulators.truth import GroundTruth
from tests.harness import Stack

STEP = 60.0
HISTORY_DAYS = 14.0
HOURS = 6.0
EVERY = 5  # steps between evaluations
# What each fault should raise; the ingestor absorbs duplicates and reordering by design, malformed
# messages are quarantined with a reason (tested in tests/e2e).
EXPECTED = {
    FaultKind.DROPOUT: "sensor-stale",
    FaultKind.STUCK: "sensor-flatline",
    FaultKind.SPIKE: "sensor-spike",
    FaultKind.NOISE_BURST: "sensor-noise",
    FaultKind.OFFLINE: "device-offline",
    FaultKind.CLOCK_SKEW: "device-clock",
    FaultKind.DRIFT: "sensor-drift",
}
HEALTH_RULES = set(EXPECTED.values()) | {"edge-backlog"}
DETECTABLE_JITTER_GAIN = 3.0  # a burst that less than triples the sensor's jitter is reported, not required
LATE_DATA = (FaultKind.OUT_OF_ORDER, FaultKind.MALFORMED, FaultKind.CLOCK_SKEW, FaultKind.OFFLINE)


def _jitter_gain(truth: GroundTruth, fault: Fault) -> float:
    """How many times a noise burst multiplies the sensor's own jitter (robust spread of the change
    of its steps in the hour before): the signal a noise check has to go on."""
    x = truth.truth[truth.row(fault.target)]
    bend = x[2:] - 2 * x[1:-1] + x[:-2]
    before = bend[(truth.times[2:] >= fault.start - 3600) & (truth.times[2:] < fault.start)]
    own = 1.4826 * float(np.median(np.abs(before - np.median(before))))
    return float(np.sqrt(own**2 + 6 * fault.magnitude**2) / own)


@pytest.mark.slow
@pytest.mark.timeout(1200)  # a hang guard, not a speed limit: forecast and alert cycles on a shared machine
def test_each_injected_fault_raises_its_health_alarm_and_healthy_sensors_stay_quiet(stack: Stack) -> None:
    sites = tuple(city_sites(16))
    config = scenarios.scenario_config("sensor-faults", sites, hours=HOURS, step_s=STEP, seed=5)  # its fixed date
    devices = stack.provision_ids([s.site_id for s in sites], {s.site_id: site_details(s) for s in sites})
    history = CityConfig(sites, config.start - HISTORY_DAYS * 86_400, HISTORY_DAYS * 86_400, STEP, config.seed)
    with psycopg.connect(stack.database_url) as conn:  # two weeks before, for the forecasts drift is judged by
        write_history(conn, simulate(history))
    stored_before = stack.rows()  # the lock-step waits for the scenario's rows on top of the history's
    age = datetime.now(UTC).timestamp() - config.start + 86_400  # admit the scenario's (historical) readings
    stack.start_ingestor(extra_env={"URBANPULSE_VALIDATION__MAX_AGE_S": str(age)})
    fleet = stack.fleet(devices)
    default = load_rules(DEFAULT_RULES)
    # The Last Will's time is the ingestor's wall clock, which barely moves in a lock-step run: no grace.
    rules = [Offline(name=r.name, kind="offline", grace_s=0) if r.kind == "offline" else r for r in default.rules]
    book = default.model_copy(update={"rules": rules, "contacts": [ContactTier(tier=1, mqtt=False)]})
    payloads: set[tuple[str, bytes]] = set()
    expected_rows = 0
    steps = 0

    def send(messages: Sequence[Outgoing]) -> int:
        nonlocal expected_rows
        for m in messages:
            if m.action == Action.PUBLISH and m.readings and (m.device, m.payload) not in payloads:
                payloads.add((m.device, m.payload))
                expected_rows += m.readings
        return fleet.send(messages)

    forecast_settings = ForecastSettings(history_days=HISTORY_DAYS)
    forecasts: list[ServiceState | None] = [None]

    def lockstep(progress: run.Progress) -> None:
        nonlocal steps
        steps += 1
        if steps % EVERY:
            return
        stack.wait_rows(stored_before + expected_rows, timeout=60)
        now = progress.sim_time + STEP - 1
        with psycopg.connect(stack.database_url) as conn:
            # as the service does: fitted once, then updated with each new bucket
            _, forecasts[0] = issue_cycle(conn, datetime.fromtimestamp(now, UTC), forecast_settings, forecasts[0])
            conn.commit()
            run_cycle(conn, book, now, AlertsSettings())

    try:
        truth = run.run(config, send, speed=0, scenario="sensor-faults", progress=lockstep)
        assert fleet.wait_acknowledged(timeout=60)
    finally:
        fleet.stop()
    with stack.connect() as conn:
        raised = conn.execute(
            """SELECT a.rule, coalesce(s.device_id || '/' || s.name, a.device_id), a.device_id, min(a.fired_at)
               FROM alerts a LEFT JOIN sensors s USING (sensor_id) WHERE a.fired_at IS NOT NULL
               GROUP BY 1, 2, 3"""
        ).fetchall()
    fired = {(rule, target) for rule, target, _, _ in raised}
    found: list[str] = []
    missed: list[str] = []
    faint: list[str] = []
    for fault in truth.faults:
        rule = EXPECTED.get(fault.kind)
        if rule is None:
            continue
        if fault.kind == FaultKind.NOISE_BURST and _jitter_gain(truth, fault) < DETECTABLE_JITTER_GAIN:
            faint.append(f"{fault.kind}:{fault.target} (x{_jitter_gain(truth, fault):.1f} jitter)")
            continue
        (found if (rule, fault.target) in fired else missed).append(f"{fault.kind}:{fault.target}")
    explained = {(EXPECTED[f.kind], f.target) for f in truth.faults if f.kind in EXPECTED}
    # Data held back or stamped late by a delivery fault also look stale (or late) while it lasts:
    late = {f.target for f in truth.faults if f.kind in LATE_DATA}
    secondary = sorted((rule, target) for rule, target in fired if (rule, target) not in explained
                       and rule in ("sensor-stale", "device-clock") and target.split("/")[0] in late)  # fmt: skip
    unexplained = sorted((rule, target) for rule, target in fired if rule in HEALTH_RULES
                         and (rule, target) not in explained and (rule, target) not in secondary)  # fmt: skip
    faulty_devices = {f.target.split("/")[0] for f in truth.faults}
    false_alarms = Counter(
        rule for rule, _, device, _ in raised if rule in HEALTH_RULES and device not in faulty_devices
    )
    print(f"health alarms: {len(found)} faults found, missed {missed}, below detection {faint}; "
          f"false alarms on healthy devices: "
          f"{dict(false_alarms)} of {len(sites) - len(faulty_devices)} healthy devices; "
          f"symptoms of late data: {secondary}; "
          f"unexplained: {unexplained}")  # fmt: skip
    assert not missed and len(faint) <= 1
    assert sum(false_alarms.values()) == 0 and not unexplained
