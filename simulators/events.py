"""Events in the latent truth: runs of a series beyond a threshold (floods, jams), with start, peak, end."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Event:
    kind: str  # "flood" or "congestion"
    site_id: str
    start: float  # Unix s of the first step beyond the threshold
    peak_time: float
    peak: float  # the most extreme value (deepest water, lowest speed)
    end: float  # Unix s of the first step back within the threshold (or the window's end)
    threshold: float


def runs_beyond(
    values: npt.NDArray[np.float64], threshold: npt.NDArray[np.float64], above: bool = True
) -> list[tuple[int, int, int]]:
    """(row, first step, one past the last step) of every run where ``values`` is beyond ``threshold``.

    ``values`` is (n_rows, n_steps), ``threshold`` (n_rows,). Vectorised: run edges come from one diff.
    """
    beyond = values > threshold[:, None] if above else values < threshold[:, None]
    padded = np.pad(beyond.astype(np.int8), ((0, 0), (1, 1)))
    edges = np.diff(padded, axis=1)
    rows_on, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)  # same row-major order, one end per start
    return list(zip(rows_on.tolist(), starts.tolist(), ends.tolist(), strict=True))


def detect(
    kind: str,
    site_ids: list[str],
    times: npt.NDArray[np.float64],
    values: npt.NDArray[np.float64],
    threshold: npt.NDArray[np.float64],
    above: bool = True,
    min_steps: int = 1,
) -> list[Event]:
    """Events of at least ``min_steps`` steps; ``end`` is the first time back within the threshold."""
    step = float(times[1] - times[0]) if len(times) > 1 else 0.0
    events = []
    for row, first, stop in runs_beyond(values, threshold, above):
        if stop - first < min_steps:
            continue
        run = values[row, first:stop]
        k = first + int(np.argmax(run) if above else np.argmin(run))
        end = float(times[stop]) if stop < len(times) else float(times[-1]) + step
        events.append(
            Event(
                kind,
                site_ids[row],
                float(times[first]),
                float(times[k]),
                float(values[row, k]),
                end,
                float(threshold[row]),
            )  # fmt: skip
        )
    return sorted(events, key=lambda e: (e.start, e.site_id))
