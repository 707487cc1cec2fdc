"""``urbanpulse forecast backtest``: a recording in, one table comparing every model out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.harness import REPO


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api", "forecast", "backtest", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_backtest_prints_every_model_on_the_same_windows(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    start, step, n = 1_788_000_000 - 1_788_000_000 % 86_400, 900, 21 * 96
    lines = ["time,sensor,value"]
    for device in ("hang-xanh", "cat-lai"):
        level = 100 + 80 * np.sin(2 * np.pi * np.arange(n) / 96) + rng.normal(0, 5, n)
        lines += [f"{start + step * k},{device}/traffic_count,{v:.1f}" for k, v in enumerate(level)]
    recording = tmp_path / "counts.csv"
    recording.write_text("\n".join(lines) + "\n")
    result = _cli(str(recording), "--horizon", "3", "--origins", "4", "--holdout-days", "3")
    assert result.returncode == 0, result.stderr
    assert "2 series, step 15 min, 4 origins, horizon 12 steps" in result.stdout
    for model in ("seasonal_naive_24h", "seasonal_naive_168h", "time_of_week", "day_type_profile", "profile_ar"):
        assert model in result.stdout
    assert "MAE@15min" in result.stdout and "MAE@3h" in result.stdout


def test_backtest_explains_a_recording_it_cannot_use(tmp_path: Path) -> None:
    short = tmp_path / "short.csv"
    short.write_text("time,sensor,value\n1788000000,gauge-a/water_level,1.0\n")
    result = _cli(str(short))
    assert result.returncode == 2 and "too few time steps to backtest" in result.stderr


def test_warning_skill_is_scored_on_a_scenario_from_the_command_line() -> None:
    run = [sys.executable, "-m", "api", "forecast", "warnings"]
    result = subprocess.run([*run, "--sites", "16", "--history-days", "7", "--seeds", "0-1", "--quick"], cwd=REPO,
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "simulating 7 days of history and the monsoon-storm scenario (16 sites, seed 1)" in result.stderr
    tables, summary = result.stdout.strip().split("\n\n")[:2], result.stdout.strip().split("\n\n")[-1]
    for seed, table in enumerate(tables):
        title, header, *rows = table.splitlines()
        assert title == f"monsoon-storm, seed {seed}:" and header.split()[:3] == ["events", "P", ">="]
        assert [row.split(":")[0] for row in rows] == ["flood"] * 6 and "median lead" in header
    assert summary.splitlines()[1].split() == ["seed", "0", "seed", "1", "all", "seeds"]  # every seed, then all
    bad = subprocess.run([*run, "--scenario", "tsunami"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown scenario 'tsunami'" in bad.stderr
    bad = subprocess.run([*run, "--seeds", "0-x"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "give e.g. 0-9 or 0,3,7" in bad.stderr
