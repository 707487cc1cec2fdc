"""Running a scenario: simulate the city chunk by chunk, pace its clock, hand messages to a sender.

The simulated clock runs ``speed`` times faster than the wall clock (``speed=0``: as fast as the
sender takes it); readings carry simulated timestamps. Chunks keep memory bounded on long runs.
The result is the ground truth of what was simulated and what was sent.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from simulators import city
from simulators.emission import Action, Emitter, Outgoing, delivery_arrays
from simulators.events import Event
from simulators.sites import sensors_of
from simulators.truth import GroundTruth

Sender = Callable[[Sequence[Outgoing]], object]
DEFAULT_CHUNK_S = 6 * 3600.0


@dataclass(frozen=True)
class Progress:
    sim_time: float  # Unix s of the step just sent
    fraction: float  # of the run's window
    readings: int  # valid readings sent so far
    messages: int
    events_so_far: int  # floods, high water and jams that have begun


class Pacer:
    """Holds each step until its simulated time is due: ``speed`` simulated seconds per wall second."""

    def __init__(self, origin: float, speed: float, stop: threading.Event) -> None:
        self.origin, self.speed, self.stop = origin, speed, stop
        self.began = time.monotonic()

    def wait(self, when: float) -> bool:
        """False once a stop is requested (at once, or while waiting for ``when``)."""
        if self.speed > 0:
            self.stop.wait(max(0.0, self.began + (when - self.origin) / self.speed - time.monotonic()))
        return not self.stop.is_set()


def merge_events(events: list[Event]) -> list[Event]:
    """Join events that a chunk boundary split in two (same kind and site, one ends where the next starts)."""
    merged: list[Event] = []
    open_by_key: dict[tuple[str, str], int] = {}
    for e in sorted(events, key=lambda e: (e.start, e.kind, e.site_id)):
        key = (e.kind, e.site_id)
        i = open_by_key.get(key)
        if i is not None and merged[i].end == e.start:
            prev = merged[i]
            deeper = (e.peak > prev.peak) == (e.kind != "congestion")
            peak_time, peak = (e.peak_time, e.peak) if deeper else (prev.peak_time, prev.peak)
            merged[i] = dataclasses.replace(prev, peak_time=peak_time, peak=peak, end=e.end)
            continue
        open_by_key[key] = len(merged)
        merged.append(e)
    return merged


def run(
    config: city.CityConfig,
    send: Sender | None = None,
    speed: float = 0.0,
    scenario: str = "",
    stop: threading.Event | None = None,
    progress: Callable[[Progress], None] | None = None,
    chunk_s: float = DEFAULT_CHUNK_S,
) -> GroundTruth:
    """Simulate ``config`` and send every step's messages; returns the ground truth (up to a stop)."""
    stop = stop or threading.Event()
    pieces: list[city.Simulation] = []
    emitter: Emitter | None = None
    readings = messages = 0
    pacer = Pacer(config.start, speed, stop)
    offset = 0.0
    while offset < config.duration_s and not stop.is_set():
        length = min(chunk_s, config.duration_s - offset)
        chunk = city.simulate(dataclasses.replace(config, start=config.start + offset, duration_s=length))
        offset += length
        emitter = emitter or Emitter(chunk.sensors, list(config.faults), config.seed)
        done = 0
        for k, when in enumerate(chunk.times):
            if not pacer.wait(float(when)):
                break
            out = emitter.step(float(when), chunk.observed[:, k])
            readings += sum(m.readings for m in out)
            messages += sum(m.action == Action.PUBLISH for m in out)
            if send is not None:
                send(out)
            done = k + 1
            if progress is not None:
                fraction = (float(when) - config.start + config.step_s) / config.duration_s
                events = sum(e.start <= when for p in (*pieces, chunk) for e in p.events)
                progress(Progress(float(when), fraction, readings, messages, events))
        pieces.append(_truncated(chunk, done))
    if emitter is not None and send is not None:
        send(emitter.flush())
    return _ground_truth(config, pieces, scenario)


def _truncated(sim: city.Simulation, steps: int) -> city.Simulation:
    if steps == len(sim.times):
        return sim
    end = float(sim.times[steps - 1]) + sim.config.step_s if steps else float(sim.times[0])
    return dataclasses.replace(
        sim,
        times=sim.times[:steps],
        truth=sim.truth[:, :steps],
        observed=sim.observed[:, :steps],
        events=[dataclasses.replace(e, end=min(e.end, end)) for e in sim.events if e.start < end],
    )


def _ground_truth(config: city.CityConfig, pieces: list[city.Simulation], scenario: str) -> GroundTruth:
    sensors = pieces[0].sensors if pieces else sensors_of(list(config.sites))
    times = np.concatenate([p.times for p in pieces]) if pieces else np.zeros(0)
    n = len(sensors)
    truth = np.concatenate([p.truth for p in pieces], axis=1) if pieces else np.zeros((n, 0))
    observed = np.concatenate([p.observed for p in pieces], axis=1) if pieces else np.zeros((n, 0))
    delivered, offsets = delivery_arrays(sensors, times, observed, list(config.faults))
    meta = {
        "scenario": scenario,
        "seed": config.seed,
        "step_s": config.step_s,
        "start": config.start,
        "duration_s": config.duration_s,
        "sites": [dataclasses.asdict(s) for s in config.sites],
        "cells": [dataclasses.asdict(c) for c in dict.fromkeys(c for p in pieces for c in p.cells)],
        "incidents": [dataclasses.asdict(i) for i in dict.fromkeys(i for p in pieces for i in p.incidents)],
    }
    return GroundTruth(
        times=times,
        sensors=[s.full_name for s in sensors],
        truth=truth,
        observed=observed,
        delivered=delivered,
        time_offset_s=offsets,
        events=merge_events([e for p in pieces for e in p.events]),
        faults=list(config.faults),
        meta=meta,
    )
