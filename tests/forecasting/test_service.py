"""The forecast service on a real PostgreSQL: history in, forecasts table out, restart- and shard-safe."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest

from api.simulation.seed import write_history
from devstack.postgres import PostgresServer
from devstack.stack import site_details
from forecasting.service import BucketWindow, CycleResult, issue_cycle, run_cycle, run_service
from ingest import provisioning
from runtime.settings import ForecastSettings
from simulators.city import CityConfig, Simulation, simulate
from simulators.scenarios import scenario_config
from simulators.sites import SiteKind, city_sites

STEP = 300.0
HORIZON_STEPS = 36  # the default 3 h


def _seeded(database_url: str, days: float, end: float, n_sites: int = 12) -> Simulation:
    sites = tuple(city_sites(n_sites))
    sim = simulate(CityConfig(sites, end - days * 86_400, days * 86_400, STEP, seed=1))
    with psycopg.connect(database_url) as conn:
        for site in sites:
            provisioning.provision_device(conn, site.site_id, **site_details(site))
        conn.commit()
        assert write_history(conn, sim) == int(np.isfinite(sim.observed).sum())
    return sim


def _forecast_kinds(sim: Simulation) -> int:
    return sum(s.kind in ("water_level", "traffic_count", "traffic_speed") for s in sim.sensors)


def test_a_cycle_writes_every_sensors_forecast_with_bands_and_alarm_probabilities(database_url: str) -> None:
    end = datetime(2026, 10, 20, 12, tzinfo=UTC).timestamp()
    sim = _seeded(database_url, 15.0, end)
    settings = ForecastSettings()
    with psycopg.connect(database_url) as conn:
        result = run_cycle(conn, datetime.fromtimestamp(end + 130, UTC), settings)  # mid-bucket: floored
        assert result.issued_at == datetime.fromtimestamp(end, UTC)
        assert result.sensors == _forecast_kinds(sim) and result.rows_written == result.sensors * HORIZON_STEPS
        rows = conn.execute(
            """SELECT s.kind, count(*), count(DISTINCT f.sensor_id), min(f.target_time), max(f.target_time),
                      bool_and(f.lower_95 <= f.lower_80 AND f.lower_80 <= f.mean AND f.mean <= f.upper_80
                               AND f.upper_80 <= f.upper_95),
                      count(f.exceed_probability), min(f.exceed_probability), max(f.exceed_probability)
               FROM forecasts f JOIN sensors s USING (sensor_id) GROUP BY s.kind ORDER BY s.kind"""
        ).fetchall()
        kinds = {r[0]: r[1:] for r in rows}
        assert set(kinds) == {"traffic_count", "traffic_speed", "water_level"}  # rain is an input, not forecast
        for count, sensors, first, last, nested, _, _, _ in kinds.values():
            assert count == sensors * HORIZON_STEPS and nested
            assert first == result.issued_at and last == result.issued_at + timedelta(seconds=STEP * 35)
        water = kinds["water_level"]
        assert water[5] == water[0] and 0.0 <= water[6] <= water[7] <= 1.0  # every water row has its probability
        assert kinds["traffic_speed"][5] == 0
        growing = conn.execute(
            """SELECT bool_and(p >= prev) FROM (SELECT exceed_probability AS p,
                   lag(exceed_probability) OVER (PARTITION BY sensor_id ORDER BY target_time) AS prev
               FROM forecasts WHERE exceed_probability IS NOT NULL) t WHERE prev IS NOT NULL"""
        ).fetchone()
        assert growing == (True,)  # "at or before the target time" only grows

        again = run_cycle(conn, datetime.fromtimestamp(end, UTC), settings)  # a retried cycle replaces its rows
        assert again.rows_written == result.rows_written
        assert conn.execute("SELECT count(*) FROM forecasts").fetchone() == (result.rows_written,)
        assert conn.execute("SELECT count(*) FROM forecast_runs").fetchone() == (1,)


def test_registered_streets_get_the_flood_outlook_tier_and_its_probabilities(database_url: str) -> None:
    """Half an hour before a monsoon storm floods the first street: every street registered with drainage
    facts gets an outlook row, its forecasts carry the outlook's probabilities, and a tier is up."""
    sites = tuple(city_sites(24))
    config = scenario_config("monsoon-storm", sites, step_s=STEP)
    back = 14 * 86_400.0
    sim = simulate(dataclasses.replace(config, start=config.start - back, duration_s=config.duration_s + back))
    first_flood = min(e.start for e in sim.events if e.kind == "flood" and e.start > config.start)
    now = first_flood - 1800.0
    with psycopg.connect(database_url) as conn:
        for site in sites:
            provisioning.provision_device(conn, site.site_id, **site_details(site))
        conn.commit()
        write_history(conn, sim, until=now)
        run_cycle(conn, datetime.fromtimestamp(now, UTC), ForecastSettings(history_days=14))
        issued = datetime.fromtimestamp(now - now % STEP, UTC)
        outlooks = conn.execute(
            """SELECT d.metadata -> 'site_kind', o.tier, o.warning_probability, o.watch_probability,
                      f.exceed_probability
               FROM flood_outlooks o JOIN sensors s USING (sensor_id) JOIN devices d USING (device_id)
               JOIN forecasts f ON f.sensor_id = o.sensor_id AND f.issued_at = o.issued_at
                    AND f.target_time = o.issued_at + interval '55 minutes'
               WHERE o.issued_at = %s""",
            (issued,),
        ).fetchall()
    streets = sum(s.kind == SiteKind.STREET for s in sites)
    assert len(outlooks) == streets and {r[0] for r in outlooks} == {"street"}  # canals get no outlook
    assert all(0 <= warning <= 1 and 0 <= watch <= 1 for _, _, warning, watch, _ in outlooks)
    assert all(np.isclose(warning, in_forecasts) for _, _, warning, _, in_forecasts in outlooks)  # the same P
    assert {tier for _, tier, *_ in outlooks} & {"watch", "warning"}  # the storm is coming: some street is on notice


def test_the_newest_issue_is_the_one_read_and_old_issues_are_pruned(database_url: str) -> None:
    end = datetime(2026, 10, 20, 12, tzinfo=UTC).timestamp()
    _seeded(database_url, 3.0, end, n_sites=6)
    settings = ForecastSettings(keep_days=0.01)  # ~15 minutes
    with psycopg.connect(database_url) as conn:
        state = None
        for minutes in (-60, -30, -10, 0):  # fitted once, then updated: as the service runs
            _, state = issue_cycle(conn, datetime.fromtimestamp(end + 60 * minutes, UTC), settings, state)
        issues = [r[0] for r in conn.execute("SELECT DISTINCT issued_at FROM forecasts ORDER BY 1")]
        newest = datetime.fromtimestamp(end, UTC)
        assert issues == [newest - timedelta(minutes=10), newest]  # older than 15 min before the newest: gone
        latest = conn.execute("SELECT DISTINCT issued_at FROM latest_forecasts").fetchall()
        assert latest == [(newest,)]


def test_shards_split_the_sensors_between_copies(database_url: str) -> None:
    end = datetime(2026, 10, 20, 12, tzinfo=UTC).timestamp()
    sim = _seeded(database_url, 3.0, end, n_sites=8)
    with psycopg.connect(database_url) as conn:
        counts = [run_cycle(conn, datetime.fromtimestamp(end, UTC), ForecastSettings(shard=f"{k}/2")).sensors
                  for k in (0, 1)]  # fmt: skip
        assert all(counts) and sum(counts) == _forecast_kinds(sim)
        assert conn.execute("SELECT count(DISTINCT sensor_id) FROM forecasts").fetchone() == (sum(counts),)
        assert conn.execute("SELECT count(*) FROM forecast_runs").fetchone() == (2,)


def _clock(ticks: list[float], stop: threading.Event) -> Callable[[], datetime]:
    """A simulated clock giving ``ticks`` in turn (then the last again); reaching the last one asks the
    loop to stop once it has issued what that moment owes."""
    left = iter(ticks)

    def now() -> datetime:
        moment = next(left, ticks[-1])
        if moment == ticks[-1]:
            stop.set()
        return datetime.fromtimestamp(moment, UTC)

    return now


def test_the_loop_issues_once_per_new_bucket_and_survives_a_database_outage(
    postgres: PostgresServer, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    end = datetime(2026, 10, 20, 12, tzinfo=UTC).timestamp()
    _seeded(database_url, 2.0, end, n_sites=4)
    stop = threading.Event()
    results: list[CycleResult] = []
    ticks = [end, end + 60, end + STEP + 1, end + 4 * STEP + 5]  # two ticks in one bucket, the next, then a jump
    run_service(database_url, ForecastSettings(every_s=0.01), stop, _clock(ticks, stop), results.append)
    assert [r.issued_at.timestamp() for r in results] == [end + k * STEP for k in range(5)]  # none skipped
    assert [r.refitted for r in results] == [True, False, False, False, False]  # fitted once, then updated

    stop.clear()
    unreachable = postgres.url("no_such_database")
    run_service(unreachable, ForecastSettings(every_s=0.01), stop, _clock([end, end + STEP], stop))
    assert caplog.text.count("forecast cycle at") == 2 and "retrying next tick" in caplog.text


def test_the_loop_owes_every_bucket_from_its_first_even_when_the_clock_has_moved_on(database_url: str) -> None:
    end = datetime(2026, 10, 20, 12, tzinfo=UTC).timestamp()
    _seeded(database_url, 2.0, end, n_sites=4)
    stop = threading.Event()
    results: list[CycleResult] = []
    late = [end + 2 * STEP + 1]  # the loop's first look at the clock: two buckets after it was started
    first = datetime.fromtimestamp(end + 30, UTC)
    run_service(database_url, ForecastSettings(every_s=0.01), stop, _clock(late, stop), results.append, first)
    assert [r.issued_at.timestamp() for r in results] == [end, end + STEP, end + 2 * STEP]


def test_forecast_run_once_from_the_command_line(database_url: str) -> None:
    now = datetime.now(UTC).timestamp()
    _seeded(database_url, 2.0, now - now % STEP, n_sites=4)
    env = {**os.environ, "URBANPULSE_DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-m", "api", "forecast", "run", "--once"], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert re.match(r"issued \S+: \d+ sensors, \d+ fallbacks, \d+ rows in [\d.]+ s", done.stdout), done.stdout
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) > 0 FROM forecasts").fetchone() == (True,)
    bad = subprocess.run([sys.executable, "-m", "api", "forecast", "run", "--once"], capture_output=True, text=True,
                         env={**env, "URBANPULSE_FORECAST__SHARD": "3/2"}, timeout=60)  # fmt: skip
    assert bad.returncode == 2 and "K must be below N" in bad.stderr


def test_between_refits_a_cycle_reads_only_the_new_buckets_and_loses_none(database_url: str) -> None:
    """The loop keeps its models and a window of buckets between cycles; the window it slides by
    reading only the newest buckets holds exactly what a fresh read of the whole span returns."""
    end = datetime(2026, 10, 20, 12, tzinfo=UTC).timestamp()
    _seeded(database_url, 3.0, end, n_sites=6)
    settings = ForecastSettings(history_days=2.0)
    with psycopg.connect(database_url) as conn:
        first, state = issue_cycle(conn, datetime.fromtimestamp(end - STEP, UTC), settings, None)
        second, state = issue_cycle(conn, datetime.fromtimestamp(end, UTC), settings, state)
        assert first.refitted and not second.refitted and second.sensors == first.sensors
        window = state.window.series()
        assert window.end == end and window.n_time == round(2 * 86_400 / STEP)  # the window slid by one bucket
        fresh = BucketWindow.read(conn, state.window.ids, datetime.fromtimestamp(end - 2 * 86_400, UTC),
                                  datetime.fromtimestamp(end, UTC))  # fmt: skip
        assert np.allclose(fresh.values, window.values, equal_nan=True)  # nothing lost in the sliding
        assert np.array_equal(fresh.samples, state.window.samples)  # the readings per bucket slide with them
