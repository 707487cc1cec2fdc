"""The lifecycle on pure logic with an injected clock: duration, hysteresis, flapping, resolve, expiry."""

from __future__ import annotations

import numpy as np

from alerts import checks
from alerts.checks import Condition, Recent
from alerts.lifecycle import State, Timing, Tracks, advance


def _series(values: list[float], hysteresis: float = 0.2) -> list[Condition]:
    """The threshold condition (level 1.0) for one sensor reading ``values`` in turn."""
    out = []
    for v in values:
        recent = Recent(np.array([[v]]), np.array([[0.0]]), np.zeros((1, 1), np.int16))
        out.append(checks.threshold(recent, np.array([1.0]), below=False, hysteresis=hysteresis))
    return out


def _run(values: list[float], timing: Timing, step: float = 60.0, hysteresis: float = 0.2) -> list[State]:
    tracks = Tracks.empty(1)
    states = []
    for k, cond in enumerate(_series(values, hysteresis)):
        tracks = advance(tracks, cond, k * step, timing)
        states.append(State(int(tracks.state[0])))
    return states


P, F, R, N = State.PENDING, State.FIRING, State.RESOLVED, State.INACTIVE


def test_an_alert_fires_only_after_its_condition_held_for_the_duration() -> None:
    states = _run([1.5, 1.5, 1.5, 1.5], Timing(for_s=120))
    assert states == [P, P, F, F]


def test_a_pending_alert_whose_condition_lapses_is_dropped_without_firing() -> None:
    assert _run([1.5, 0.5, 1.5, 1.5], Timing(for_s=120)) == [P, N, P, P]


def test_hysteresis_keeps_a_value_hovering_at_the_level_from_resolving() -> None:
    # above 1.0 raises; only below 0.8 clears: 0.9 and 0.95 keep it firing
    assert _run([1.2, 0.9, 1.05, 0.95, 0.7], Timing()) == [F, F, F, F, R]


def test_resolution_waits_for_the_condition_to_stay_clear() -> None:
    states = _run([1.2, 0.5, 1.2, 0.5, 0.5, 0.5], Timing(resolve_after_s=120))
    assert states == [F, F, F, F, F, R]


def test_an_alert_without_data_expires_and_a_pending_one_is_dropped() -> None:
    timing = Timing(expire_after_s=180)
    tracks = Tracks.empty(2)
    fire = Condition(np.array([True, True]), np.array([False, False]), np.array([True, True]), np.array([2.0, 2.0]))
    tracks = advance(tracks, fire, 0.0, Timing(for_s=0))
    tracks = advance(tracks, fire, 0.0, timing)
    assert list(tracks.state) == [F, F]
    blind = Condition(np.zeros(2, bool), np.zeros(2, bool), np.zeros(2, bool), np.full(2, np.nan))
    states = []
    for t in (60.0, 120.0, 240.0):
        tracks = advance(tracks, blind, t, timing)
        states.append(list(tracks.state))
    assert states == [[F, F], [F, F], [State.EXPIRED, State.EXPIRED]]


def test_a_flapping_alert_is_reopened_not_renewed_and_counts_its_flaps() -> None:
    timing = Timing(flap_window_s=600, for_s=120)
    tracks = Tracks.empty(1)
    raised = _series([1.5])[0]
    # the store hands back a recently resolved alert as INACTIVE with its closing time
    tracks = Tracks(np.array([N], np.int8), np.array([np.nan]), np.array([np.nan]), np.array([np.nan]),
                    np.array([1000.0]), np.array([2], np.int32), np.array([False]))  # fmt: skip
    again = advance(tracks, raised, 1300.0, timing)
    assert again.state[0] == F and again.reopened[0] and again.flaps[0] == 3  # no "for" wait on a reopen
    later = advance(tracks, raised, 1700.0, timing)  # outside the flap window: a new alert, pending first
    assert later.state[0] == P and not later.reopened[0] and later.flaps[0] == 2


def test_a_thousand_flapping_inputs_produce_few_state_changes_with_hysteresis_and_hold_down() -> None:
    rng = np.random.default_rng(1)
    noisy = list(1.0 + rng.normal(0, 0.08, 1000))  # a level hovering at the alarm line
    plain = _run(noisy, Timing(), hysteresis=0.0)
    damped = _run(noisy, Timing(for_s=180, resolve_after_s=300), hysteresis=0.1)
    firings = lambda s: sum(b == F and a != F for a, b in zip(s, s[1:], strict=False))  # noqa: E731
    assert firings(plain) > 100 and firings(damped) < firings(plain) / 10


def test_vectorised_over_many_subjects_at_once() -> None:
    n = 10_000
    rng = np.random.default_rng(2)
    raised = rng.random(n) < 0.1
    cond = Condition(raised, ~raised, np.ones(n, bool), np.zeros(n))
    tracks = advance(Tracks.empty(n), cond, 0.0, Timing(for_s=60))
    assert (tracks.state == P).sum() == raised.sum()
    tracks = advance(tracks, cond, 60.0, Timing(for_s=60))
    assert (tracks.state == F).sum() == raised.sum() and (tracks.state[~raised] == N).all()
