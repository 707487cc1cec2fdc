"""The alert lifecycle as one vectorised step: pending -> firing -> acknowledged -> resolved / expired.

Pure: given every subject's track (state and the times that matter) and the rule's condition
now, ``advance`` returns the next tracks. Time is passed in, so tests drive it with a fake clock.

* raise held for ``for_s`` (pending) -> firing; a pending alert whose condition lapses is dropped.
* firing or acknowledged, condition clear (the rule's hysteresis side) for ``resolve_after_s``
  -> resolved; no data to judge by for ``expire_after_s`` -> expired.
* flap suppression: a subject raised again within ``flap_window_s`` of its last resolution
  reopens that alert (firing at once, ``flaps`` + 1) instead of opening a new one, and the
  notifier only tells people of states that differ from what they were last told.
* acknowledgement is a person's act (``alerts.store.acknowledge``), never the engine's.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from alerts.checks import Condition
from forecasting.series import Array


class State(enum.IntEnum):
    INACTIVE = 0
    PENDING = 1
    FIRING = 2
    ACKNOWLEDGED = 3
    RESOLVED = 4
    EXPIRED = 5

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def of(cls, label: str) -> State:
        return cls[label.upper()]


OPEN = (State.PENDING, State.FIRING, State.ACKNOWLEDGED)


@dataclass(frozen=True)
class Timing:
    for_s: float = 0.0
    resolve_after_s: float = 0.0
    expire_after_s: float = 3600.0
    flap_window_s: float = 900.0


@dataclass(frozen=True)
class Tracks:
    """One entry per subject (n,). Times are Unix s, NaN when not set.

    ``closed_at`` is the last resolution of a closed alert still inside the flap window (a
    reopening candidate); ``reopened`` marks subjects whose step reopened such an alert.
    """

    state: npt.NDArray[np.int8]
    pending_since: Array
    clear_since: Array
    unknown_since: Array
    closed_at: Array
    flaps: npt.NDArray[np.int32]
    reopened: npt.NDArray[np.bool_]

    @classmethod
    def empty(cls, n: int) -> Tracks:
        nan = np.full(n, np.nan)
        return cls(np.zeros(n, np.int8), nan, nan.copy(), nan.copy(), nan.copy(), np.zeros(n, np.int32),
                   np.zeros(n, np.bool_))  # fmt: skip


def advance(tracks: Tracks, cond: Condition, now: float, timing: Timing) -> Tracks:
    """The tracks after one evaluation at ``now``; closed states (resolved, expired) stay until the
    caller turns them back into INACTIVE (they are rows in the database, not live tracks)."""
    state = tracks.state.astype(np.int8).copy()
    pending_since, clear_since = tracks.pending_since.copy(), tracks.clear_since.copy()
    unknown_since, flaps = tracks.unknown_since.copy(), tracks.flaps.copy()
    raised = cond.raise_ & cond.known
    cleared = cond.clear & cond.known
    was = tracks.state

    live = np.isin(was, (State.FIRING, State.ACKNOWLEDGED))
    unknown_since = np.where(np.isin(was, OPEN) & ~cond.known, np.fmin(unknown_since, now), np.nan)

    # inactive -> pending, or straight to firing (no "for", or reopening a flapping alert)
    idle = np.isin(was, (State.INACTIVE, State.RESOLVED, State.EXPIRED))
    start = idle & raised
    reopen = start & (now - tracks.closed_at <= timing.flap_window_s)
    state[start] = State.PENDING
    pending_since[start] = now
    clear_since[start] = np.nan
    flaps[reopen] += 1

    # pending -> firing after "for"; pending whose condition lapsed -> dropped
    pending = (was == State.PENDING) | start
    ripe = pending & raised & ((now - pending_since >= timing.for_s) | reopen)
    state[ripe] = State.FIRING
    lapsed = (was == State.PENDING) & cond.known & ~raised
    state[lapsed] = State.INACTIVE
    stuck = (was == State.PENDING) & ~cond.known & (now - unknown_since >= timing.expire_after_s)
    state[stuck] = State.INACTIVE

    # firing / acknowledged -> resolved after the condition stayed clear; expired without data
    clear_since = np.where(live & cleared, np.fmin(clear_since, now), np.where(live, np.nan, clear_since))
    done = live & cleared & (now - clear_since >= timing.resolve_after_s)
    state[done] = State.RESOLVED
    expired = live & ~cond.known & (now - unknown_since >= timing.expire_after_s)
    state[expired] = State.EXPIRED
    return replace(tracks, state=state, pending_since=pending_since, clear_since=clear_since,
                   unknown_since=unknown_since, flaps=flaps, reopened=reopen)  # fmt: skip
