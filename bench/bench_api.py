"""HTTP API benchmark: the map's sites query, a month downsampled, and live-stream fan-out.

    python bench/bench_api.py [--sensors 10000] [--days 7] [--duration 20] [--clients 500] [--changes 10]

Builds a private PostgreSQL (fsync off) holding ``--sensors`` sensors (four per device) with
``--days`` of 5-minute readings (10,000 x a week = about 20 million rows), three more sensors with
30 days of one-minute readings, device status, forecast peaks and open alerts, refreshes the
plain-PostgreSQL rollups as the ingestor's job would (timed), then starts one
``urbanpulse serve`` process and drives it from other processes:

* ``wrk`` (Debian package ``wrk``) for latency percentiles and requests/s of ``GET /api/v1/sites``
  (every site, all 10,000 sensors), ``GET /api/v1/sensors/{id}/readings`` (30 days of a one-minute
  sensor in 500 points) and ``GET /healthz`` (the framework's floor, the reference the others are
  compared with in the same run). CPU seconds of the API process and of the PostgreSQL backends
  are read from /proc, so requests/s per busy core is reported beside the wall rate.
* ``--clients`` live-stream clients in a separate asyncio process (raw sockets), then
  ``--changes`` alert acknowledgements through the API: for each, the time until every client has
  the event (p50 / max), and the API process's memory per connected client.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import psycopg  # noqa: E402

from api.queries.credentials import create_token  # noqa: E402
from api.queries.people import add_user  # noqa: E402
from api.roles import Role  # noqa: E402
from devstack.ports import free_port  # noqa: E402
from devstack.postgres import PostgresOptions, PostgresServer  # noqa: E402
from devstack.waiting import wait_until  # noqa: E402
from storage.migrate import migrate  # noqa: E402
from storage.rollups import refresh_rollups  # noqa: E402

KINDS = ("water_level", "rainfall", "traffic_count", "traffic_speed")
UNITS = {"water_level": "m", "rainfall": "mm", "traffic_count": "count", "traffic_speed": "km/h"}
DISTRICTS = [f"Quận {i}" for i in range(1, 13)]
HEAVY = 3  # sensors with 30 days of one-minute readings


def build(conn: psycopg.Connection, sensors: int, days: float) -> int:
    """Devices, sensors, readings and maintained state; returns a heavy sensor's id."""
    devices = sensors // 4
    began = time.perf_counter()
    conn.execute(
        """INSERT INTO devices (device_id, display_name, ward, district, latitude, longitude, metadata)
           SELECT 'dev-' || lpad(i::text, 5, '0'), 'Site ' || i, 'Phường ' || (i %% 20 + 1),
                  (%s::text[])[(i %% 12) + 1],
                  10.70 + random() * 0.15, 106.60 + random() * 0.15,
                  jsonb_build_object('site_kind', 'street', 'alarm_levels', jsonb_build_object('water_level', 0.1))
           FROM generate_series(0, %s - 1) i""",
        (DISTRICTS, devices + HEAVY),
    )
    conn.execute(
        """INSERT INTO sensors (device_id, name, kind, unit, placement)
           SELECT 'dev-' || lpad(i::text, 5, '0'), k.kind, k.kind, k.unit, 'placed'
           FROM generate_series(0, %s - 1) i CROSS JOIN unnest(%s::text[], %s::text[]) AS k(kind, unit)
           ORDER BY i, k.kind""",
        (devices, list(KINDS), [UNITS[k] for k in KINDS]),
    )
    heavy_ids = [
        conn.execute(
            "INSERT INTO sensors (device_id, name, kind, unit) VALUES (%s, 'water_level', 'water_level', 'm') "
            "RETURNING sensor_id", (f"dev-{devices + h:05d}",),
        ).fetchone()[0]  # type: ignore[index]
        for h in range(HEAVY)
    ]  # fmt: skip
    end = "date_trunc('hour', now())"
    ids = [r[0] for r in conn.execute("SELECT sensor_id FROM sensors WHERE sensor_id <> ALL(%s) ORDER BY 1",
                                      (heavy_ids,))]  # fmt: skip
    for lo in range(0, len(ids), 1000):
        conn.execute(
            f"""INSERT INTO readings (sensor_id, time, value, qc)
                SELECT s, t, 1 + sin(extract(epoch FROM t) / 3600 + s) + random() * 0.1,
                       CASE WHEN random() < 0.001 THEN 3 ELSE 1 END
                FROM unnest(%s::int[]) s
                CROSS JOIN generate_series({end} - %s * interval '1 day', {end} - interval '5 minutes',
                                           interval '5 minutes') t""",
            (ids[lo : lo + 1000], days),
        )
        print(f"\r  readings for {min(lo + 1000, len(ids)):,} sensors ({time.perf_counter() - began:.0f} s)",
              end="", file=sys.stderr, flush=True)  # fmt: skip
    conn.execute(
        f"""INSERT INTO readings (sensor_id, time, value, qc)
            SELECT s, t, 1 + sin(extract(epoch FROM t) / 3600) + random() * 0.1, 1
            FROM unnest(%s::int[]) s
            CROSS JOIN generate_series({end} - interval '30 days', {end} - interval '1 minute',
                                       interval '1 minute') t""",
        (heavy_ids,),
    )
    conn.execute("INSERT INTO sensor_latest SELECT DISTINCT ON (sensor_id) sensor_id, time, value, qc FROM readings "
                 "ORDER BY sensor_id, time DESC")  # fmt: skip
    conn.execute(
        """INSERT INTO device_status (device_id, state, state_since, last_received_at, last_heartbeat_at, backlog,
                                      clock)
           SELECT device_id, 'online', now() - interval '1 day', now() - interval '1 minute', now(), 0, 'synced'
           FROM devices"""
    )
    conn.execute(
        """INSERT INTO forecast_peaks SELECT sensor_id, date_trunc('hour', now()), 0.1, random() FROM sensors
           WHERE kind = 'water_level'"""
    )
    conn.execute(
        """INSERT INTO alerts (fingerprint, rule, kind, subject, sensor_id, device_id, district, ward, severity, state,
                               pending_since, fired_at, last_change, value)
           SELECT 'street-flood:sensor:' || s.sensor_id, 'street-flood', 'threshold', 'sensor:' || s.sensor_id,
                  s.sensor_id, s.device_id, d.district, d.ward, 'severe', 'firing', now(), now(), now(), 0.3
           FROM sensors s JOIN devices d USING (device_id) WHERE s.kind = 'water_level' AND s.sensor_id % 200 = 4"""
    )
    rows = conn.execute("SELECT count(*) FROM readings").fetchone()
    print(f"\n  {rows[0]:,} readings in {time.perf_counter() - began:.0f} s; vacuum analyze ...", file=sys.stderr)  # type: ignore[index]
    conn.execute("VACUUM ANALYZE")
    began = time.perf_counter()
    done = refresh_rollups(conn, datetime.now(UTC))  # what the ingestor's job does, here once for all the rows
    print(f"  rollups materialised up to {done.materialized_to:%H:%M} UTC in {time.perf_counter() - began:.0f} s",
          file=sys.stderr)  # fmt: skip
    conn.execute("VACUUM ANALYZE rollup_5m, rollup_1h")
    return int(heavy_ids[0])


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        except (OSError, IndexError):
            pass
    return total


def children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return found


def rss_kib(pid: int) -> int:
    match = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) if match else 0


def wrk(url: str, token: str, duration: float, connections: int, api_pid: int, postmaster: int,
        headers: dict[str, str]) -> dict[str, float]:  # fmt: skip
    """One wrk run: latency percentiles (ms), requests/s, and requests per busy-core second."""
    pids = [api_pid, *children(postmaster)]
    before = cpu_seconds(pids)
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency", "--timeout", "10s",
               "-H", f"Authorization: Bearer {token}", *[f"-H{k}: {v}" for k, v in headers.items()], url]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds([api_pid, *children(postmaster)]) - before
    unit = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    latency = {p: float(v) * unit[u] for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)", out, re.M)}
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return {"p50_ms": latency["50"], "p99_ms": latency["99"], "rps": rate, "requests": requests,
            "errors": int(errors.group(1)) if errors else 0, "cpu_s": cpu, "per_core_s": requests / cpu}  # fmt: skip


SSE_CLIENT = r"""
import asyncio, json, sys, time
host, port, token, clients, expected = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
seen = {}  # alert event id -> receipt times

async def client(ready):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET /api/v1/events?types=alert HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")
    ready.append(1)
    event_id = None
    while True:
        line = await reader.readline()
        if not line:
            return
        if line.startswith(b"id: "):
            event_id = int(line[4:])
            seen.setdefault(event_id, []).append(time.time())

async def main():
    ready = []
    tasks = [asyncio.create_task(client(ready)) for _ in range(clients)]
    while len(ready) < clients:
        await asyncio.sleep(0.05)
    print(json.dumps({"connected": clients}), flush=True)
    deadline = time.time() + 120
    while time.time() < deadline and (len(seen) < expected or any(len(v) < clients for v in seen.values())):
        await asyncio.sleep(0.05)
    print(json.dumps({k: v for k, v in seen.items()}), flush=True)
    for t in tasks:
        t.cancel()

asyncio.run(main())
"""


def fan_out(api_url: str, port: int, token: str, clients: int, changes: int, conn: psycopg.Connection,
            api_pid: int) -> dict[str, float]:  # fmt: skip
    idle = rss_kib(api_pid)
    process = subprocess.Popen([sys.executable, "-c", SSE_CLIENT, "127.0.0.1", str(port), token, str(clients),
                                str(changes)], stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert process.stdout is not None
    assert json.loads(process.stdout.readline())["connected"] == clients
    time.sleep(2)  # let the server settle its per-connection state before measuring memory
    connected = rss_kib(api_pid)
    alerts = [r[0] for r in conn.execute("SELECT alert_id FROM alerts WHERE state = 'firing' ORDER BY 1 LIMIT %s",
                                         (changes,))]  # fmt: skip
    sent = []
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        for alert_id in alerts:
            sent.append(time.time())
            client.post(f"/api/v1/alerts/{alert_id}/ack", json={"note": "bench"}).raise_for_status()
            time.sleep(0.5)
    seen = json.loads(process.stdout.readline())
    process.wait(timeout=30)
    spans = sorted(max(times) - start for start, times in zip(sent, [seen[k] for k in sorted(seen, key=int)],
                                                               strict=False))  # fmt: skip
    complete = sum(len(v) == clients for v in seen.values())
    return {"clients": clients, "changes": len(sent), "complete": complete,
            "all_within_p50_ms": 1000 * spans[len(spans) // 2], "all_within_max_ms": 1000 * spans[-1],
            "kib_per_client": (connected - idle) / clients}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sensors", type=int, default=10_000)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections")
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--fan-out-only", action="store_true", help="skip the wrk runs")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench_api needs wrk: apt-get install wrk")
    base = Path(tempfile.mkdtemp(prefix="urbanpulse-bench-api-"))
    base.chmod(0o755)  # the server may run as the postgres account
    server = PostgresServer(base / "pg", PostgresOptions(durable=False, max_connections=100))
    server.start()
    api = None
    try:
        url = server.url()
        migrate(url)
        with psycopg.connect(url, autocommit=True) as conn:
            heavy = build(conn, args.sensors, args.days)
            add_user(conn, "bench", Role.OPERATOR, "bench-password-1", "bench")
            token = create_token(conn, "bench", "bench", None, "bench").token
        port = free_port()
        api_url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "URBANPULSE_DATABASE_URL": url}
        env.pop("URBANPULSE_CONFIG", None)
        api = subprocess.Popen([sys.executable, "-m", "api", "serve", "--port", str(port)], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        wait_until(lambda: httpx.get(f"{api_url}/readyz").status_code == 200, timeout=60, what="the API")
        postmaster = int((server.data_dir / "postmaster.pid").read_text().split()[0])
        end = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime())
        start = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(time.time() - 30 * 86400))
        auth = {"Authorization": f"Bearer {token}"}
        month = f"/api/v1/sensors/{heavy}/readings?start={start}&end={end}&points=500"
        sizes = {name: len(httpx.get(f"{api_url}{path}", headers=auth).content)
                 for name, path in (("sites", "/api/v1/sites"), ("readings", month))}  # fmt: skip
        gz = int(
            httpx.get(f"{api_url}/api/v1/sites", headers={**auth, "Accept-Encoding": "gzip"}).headers["content-length"]
        )
        print(f"sites answer {sizes['sites'] / 1e6:.1f} MB (gzip {gz / 1e6:.2f} MB); month of readings "
              f"{sizes['readings'] / 1e3:.0f} kB",
              file=sys.stderr)  # fmt: skip
        results = {}
        runs = (
            ("healthz", "/healthz", {}),
            ("sites", "/api/v1/sites", {}),
            ("sites_gzip", "/api/v1/sites", {"Accept-Encoding": "gzip"}),
            ("readings_30d_500", month, {}),
        )
        for name, path, headers in () if args.fan_out_only else runs:
            results[name] = wrk(api_url + path, token, args.duration, args.connections, api.pid, postmaster, headers)
            r = results[name]
            print(f"{name:>18}: p50 {r['p50_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} ms  {r['rps']:8.1f} req/s  "
                  f"{r['per_core_s']:8.1f} req per CPU-second (API + PostgreSQL)  errors {r['errors']}")  # fmt: skip
        for name in () if args.fan_out_only else ("sites", "sites_gzip", "readings_30d_500"):
            print(f"{name:>18}: {results[name]['rps'] / results['healthz']['rps']:.4f} of /healthz's rate")
        with psycopg.connect(url, autocommit=True) as conn:
            results["fan_out"] = fan_out(api_url, port, token, args.clients, args.changes, conn, api.pid)
        f = results["fan_out"]
        print(f"  SSE fan-out: {f['clients']:.0f} clients, {f['changes']:.0f} acknowledgements, {f['complete']:.0f} "
              f"reached every client; all clients had it within p50 {f['all_within_p50_ms']:.0f} ms, max "
              f"{f['all_within_max_ms']:.0f} ms; {f['kib_per_client']:.0f} KiB of API memory per client")  # fmt: skip
        print(json.dumps(results))
    finally:
        if api is not None:
            api.terminate()
            api.wait(timeout=30)
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
