"""Every fault appears in the output exactly as configured and is recorded in the ground truth."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from edge import protocol
from simulators import run, scenarios
from simulators.emission import Action, Outgoing
from simulators.faults import DEFAULT_PARAMS, Fault, FaultKind, FaultParams
from simulators.sites import city_sites
from simulators.truth import GroundTruth

START = datetime(2026, 9, 15, 6, tzinfo=scenarios.HCMC).timestamp()
STEP = 300.0


def _faulty_run(faults: tuple[Fault, ...], hours: float = 6) -> tuple[GroundTruth, list[Outgoing]]:
    sites = tuple(city_sites(12))
    config = scenarios.scenario_config("normal-day", sites, START, hours, STEP, seed=2)
    config = type(config)(**{**config.__dict__, "faults": faults})
    sent: list[Outgoing] = []
    return run.run(config, sent.extend, scenario="test"), sent


def _window(truth: GroundTruth, fault: Fault) -> np.ndarray:
    return (truth.times >= fault.start) & (truth.times < fault.end)


SENSOR = "hang-xanh/traffic_speed"
DEVICE = "nguyen-huu-canh"
T0 = START + 3600


def test_value_faults_change_exactly_their_window_by_exactly_their_magnitude() -> None:
    faults = (
        Fault(FaultKind.DROPOUT, "hang-xanh/traffic_count", T0, T0 + 1800),
        Fault(FaultKind.STUCK, "phu-an/water_level", T0, T0 + 3600),
        Fault(FaultKind.SPIKE, SENSOR, T0 + 600, T0 + 600, 40.0),
        Fault(FaultKind.DRIFT, "nguyen-huu-canh/traffic_speed", T0, T0 + 7200, 3.0),
        Fault(FaultKind.NOISE_BURST, "nguyen-huu-canh/traffic_count", T0, T0 + 1800, 25.0),
    )
    truth, _ = _faulty_run(faults)
    diff = truth.observed - truth.truth
    touched = {truth.row(f.target) for f in faults}
    untouched = [r for r in range(len(truth.sensors)) if r not in touched]
    assert np.array_equal(truth.observed[untouched], truth.truth[untouched])

    dropout, stuck, spike, drift, noise = faults
    row, w = truth.row(dropout.target), _window(truth, dropout)
    assert np.isnan(truth.observed[row, w]).all() and w.sum() == 6 and not np.isnan(truth.observed[row, ~w]).any()
    row, w = truth.row(stuck.target), _window(truth, stuck)
    assert np.all(truth.observed[row, w] == truth.truth[row, np.argmax(w)]) and np.ptp(truth.truth[row, w]) > 0.05
    row = truth.row(spike.target)
    assert np.flatnonzero(diff[row]).tolist() == [int(np.searchsorted(truth.times, spike.start))]
    assert diff[row].max() == pytest.approx(40.0, abs=1e-3)
    row, w = truth.row(drift.target), _window(truth, drift)
    expected = 3.0 * (truth.times[w] - drift.start) / 3600
    assert np.allclose(diff[row, w], expected, atol=1e-3) and not diff[row, ~w].any()
    row, w = truth.row(noise.target), _window(truth, noise)
    assert not diff[row, ~w].any() and 10 < np.std(diff[row, w]) < 45


def _packs(sent: list[Outgoing], device: str) -> list[Outgoing]:
    return [m for m in sent if m.device == device and m.action == Action.PUBLISH]


def _times(message: Outgoing) -> list[float]:
    pack = json.loads(message.payload)
    return [pack[0]["bt"] + r.get("t", 0) for r in pack] if isinstance(pack, list) else []


def test_delivery_faults_shape_what_devices_send() -> None:
    faults = (
        Fault(FaultKind.CLOCK_SKEW, "hang-xanh", T0, T0 + 1800, -600.0),
        Fault(FaultKind.DUPLICATE_BURST, "phu-an", T0, T0, 4),
        Fault(FaultKind.OUT_OF_ORDER, "tan-son-nhat", T0, T0 + 3600),
        Fault(FaultKind.MALFORMED, "an-suong", T0, T0 + 900),
        Fault(FaultKind.OFFLINE, DEVICE, T0, T0 + 1800),
    )
    truth, sent = _faulty_run(faults)
    steps = len(truth.times)

    skewed = _packs(sent, "hang-xanh")
    reported = [t for m in skewed for t in _times(m)]
    in_window = [t for t in truth.times if T0 <= t < T0 + 1800]
    assert sorted({t + 600 for t in reported} & set(in_window)) == in_window  # shifted by exactly -600 s
    assert (truth.time_offset_s[truth.row("hang-xanh/traffic_speed")] == -600).sum() == len(in_window)

    duplicated = _packs(sent, "phu-an")
    assert len(duplicated) == steps + 4
    assert len({m.payload for m in duplicated}) == steps

    shuffled = [t for m in _packs(sent, "tan-son-nhat") for t in _times(m)]
    assert sorted(shuffled) == list(truth.times) and shuffled != list(truth.times)

    garbled = _packs(sent, "an-suong")
    bad = [m for m in garbled if m.readings == 0]
    assert len(bad) == 3 and all(_undecodable(m.payload) for m in bad)
    assert np.isnan(truth.delivered[truth.row("an-suong/traffic_count")]).sum() == 3

    actions = [m.action for m in sent if m.device == DEVICE]
    first_off, back = actions.index(Action.DISCONNECT), actions.index(Action.RECONNECT)
    assert Counter(actions[first_off + 1 : back]) == Counter()  # silent while offline
    late = [t for m in _packs(sent, DEVICE) for t in _times(m)]
    assert sorted(set(late)) == list(truth.times)  # nothing lost: the buffer is delivered on return


def _undecodable(payload: bytes) -> bool:
    try:
        json.loads(payload)
    except ValueError:
        return True
    return False


def test_the_ground_truth_file_records_faults_events_and_arrays(tmp_path: Path) -> None:
    sites = tuple(city_sites(48))
    config = scenarios.scenario_config("sensor-faults", sites, step_s=STEP, seed=4)
    assert Counter(f.kind for f in config.faults) == Counter({k: p.count for k, p in DEFAULT_PARAMS.items()})
    truth = run.run(config, scenario="sensor-faults")
    loaded = GroundTruth.load(truth.save(tmp_path / "truth.npz"))
    assert loaded.faults == list(config.faults)
    assert loaded.events == truth.events
    assert loaded.sensors == truth.sensors and np.array_equal(loaded.times, truth.times)
    assert np.allclose(loaded.truth, truth.truth, atol=1e-3, equal_nan=True)
    assert np.allclose(loaded.delivered, truth.delivered, atol=1e-3, equal_nan=True)
    assert loaded.meta["scenario"] == "sensor-faults" and len(loaded.meta["sites"]) == 48


def test_fault_plans_are_parameterised_and_refuse_too_many_targets() -> None:
    sites = tuple(city_sites(6))
    spikes_only = {FaultKind.SPIKE: FaultParams(3, 0, 2.0)}
    config = scenarios.scenario_config("sensor-faults", sites, step_s=STEP, faults=spikes_only)
    assert [f.kind for f in config.faults] == [FaultKind.SPIKE] * 3
    with pytest.raises(ValueError, match="offline faults asked for but only 6 targets"):
        scenarios.scenario_config("sensor-faults", sites, faults={FaultKind.OFFLINE: FaultParams(7, 60)})


def test_same_seed_same_city_different_seed_different_city() -> None:
    sites = tuple(city_sites(30))

    def simulate(seed: int) -> tuple[GroundTruth, list[Outgoing]]:
        config = scenarios.scenario_config("sensor-faults", sites, step_s=STEP, seed=seed)
        sent: list[Outgoing] = []
        return run.run(config, sent.extend), sent

    (a, sent_a), (b, sent_b), (c, sent_c) = simulate(1), simulate(1), simulate(2)
    assert np.array_equal(a.observed, b.observed, equal_nan=True) and a.events == b.events and a.faults == b.faults
    assert [m.payload for m in sent_a] == [m.payload for m in sent_b]
    assert not np.array_equal(a.truth, c.truth) and a.faults != c.faults
    assert [m.payload for m in sent_a] != [m.payload for m in sent_c]


def test_chunked_runs_equal_one_long_simulation_and_join_split_events() -> None:
    sites = tuple(city_sites(24))
    config = scenarios.scenario_config("monsoon-storm", sites, step_s=STEP)
    whole = run.run(config, chunk_s=config.duration_s)
    chunked = run.run(config, chunk_s=5 * 3600)
    water = [i for i, s in enumerate(whole.sensors) if s.endswith("/water_level")]
    gap = np.abs(whole.truth[water] - chunked.truth[water])  # only the measurement noise is drawn per chunk
    assert gap.max() < 0.05 and gap.mean() < 0.01
    floods = lambda t: [(e.site_id, e.start) for e in t.events if e.kind == "flood"]  # noqa: E731
    assert floods(whole) == floods(chunked) and floods(whole)


def test_every_message_is_a_valid_senml_pack_of_the_devices_sensors() -> None:
    truth, sent = _faulty_run(())
    for m in sent:
        pack = json.loads(m.payload)
        assert pack[0]["bn"] == protocol.base_name(m.device)
    assert sum(m.readings for m in sent) == int(np.isfinite(truth.delivered).sum())
