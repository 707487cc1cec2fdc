"""Dashboard benchmark: first load of a city of sites in headless Chromium, and how fast an alert
change in the database reaches the map and the console.

    python bench/bench_dashboard.py [--sites 10000] [--reference-sites 48] [--changes 10]

Against a private PostgreSQL and the real API process (``urbanpulse serve`` on loopback), with
``--sites`` sites placed around Ho Chi Minh City, four sensors per street site, their newest
readings, and 2 % of them in alarm:

* first load: a fresh browser context (empty cache) opens the dashboard already signed in; the
  time from navigation start until the map has drawn every site (the page's ``urbanpulse:map-drawn``
  mark, set at MapLibre's first idle frame after the sites went into the map, when it also sets
  ``data-ready``), the time to MapLibre's next idle frame once the benchmark has seen ``data-ready``
  (the earlier measure: it also waits for whatever the page does right after, such as rendering
  device health, since MapLibre's frames share the main thread with it), and the
  bytes transferred (Resource Timing ``transferSize`` of the page and everything it fetched, the
  live stream excluded, when ``data-ready`` was seen). The
  same is measured with ``--reference-sites`` sites in the same run, so the cost of the city's
  size reads as a ratio;
* the floor: the same measure for a bare MapLibre map of the same size on the same origin, once
  with only a background (MapLibre's start-up and first frame) and once with the bundled base map
  (plus its GeoJSON source in the worker): what any page with this map pays before its own data;
* both in two Chromium set-ups, neither with a hardware GPU (there is none here): ``software``,
  the tests' flags (``--disable-gpu``: software compositing, the WebGL canvas drawn by SwiftShader
  and read back every frame, as on a PC without a usable GPU), and ``swiftshader`` (Chromium's GPU
  pipeline, the path of a PC with a GPU, with SwiftShader still computing every pixel on the CPU);
* live latency (``software`` only): ``--changes`` times a new alert is written for a quiet site (one INSERT,
  committed at wall time T0); the browser records when that site's marker is drawn in its new
  state and when the console shows the row; latency = browser time - T0 (one machine, one clock).

Targets (issue 15): interactive map <= 2 s at 10,000 sites; change visible <= 1 s.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
from playwright.sync_api import Browser, Page, sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from api.queries.people import add_user  # noqa: E402
from api.roles import Role  # noqa: E402
from api.simulation.seed import write_history  # noqa: E402
from devstack.ports import free_port  # noqa: E402
from devstack.postgres import PostgresOptions, PostgresServer  # noqa: E402
from devstack.stack import site_details  # noqa: E402
from devstack.waiting import wait_until  # noqa: E402
from ingest import broker_auth  # noqa: E402
from simulators.city import simulate  # noqa: E402
from simulators.scenarios import scenario_config  # noqa: E402
from simulators.sites import city_sites  # noqa: E402
from storage import registry  # noqa: E402
from storage.migrate import migrate  # noqa: E402
from tests.web.browser import launch  # noqa: E402
from tests.web.storm import raise_alert  # noqa: E402

STEP = 300.0
PASSWORD = "bench-operator-password"
READY = """() => new Promise((resolve) => {
  const map = __urbanpulse.map.map;
  const done = () => resolve({drawn: performance.getEntriesByName('urbanpulse:map-drawn')[0].startTime,
    ready: performance.now(), transferred: performance.getEntriesByType('navigation')
    .concat(performance.getEntriesByType('resource')).filter((e) => !e.name.includes('/api/v1/events'))
    .reduce((n, e) => n + e.transferSize, 0)});
  if (map.loaded() && !map.isMoving()) map.once('idle', done); else map.once('idle', done);
  map.triggerRepaint();
})"""
WATCH = """([deviceId, alertId]) => new Promise((resolve) => {
  const got = {};
  const map = __urbanpulse.map;
  const tick = () => {
    if (!got.marker && map.renderedStatus(deviceId) === 'alarm') got.marker = Date.now();
    if (!got.row && document.querySelector(`.alert-row[data-alert-id="${alertId}"]`)) got.row = Date.now();
    if (got.marker && got.row) resolve(got); else requestAnimationFrame(tick);
  };
  tick();
})"""


def seed(url: str, n_sites: int) -> list[tuple[str, int, str | None, str | None]]:
    """Devices, sensors and their newest readings (the last 30 minutes, ending now); 2 % of sites in alarm.
    Returns the quiet street sites as (device_id, water sensor id, district, ward)."""
    sites = city_sites(n_sites)
    config = scenario_config("monsoon-storm", tuple(sites), step_s=STEP)
    sim = simulate(dataclasses.replace(config, duration_s=1800.0))
    now = time.time()
    sim = dataclasses.replace(sim, times=sim.times - sim.times[-1] + (now - now % STEP) - STEP)
    shared = broker_auth.hash_password("bench-only")  # one credential for all: hashing 10,000 is not what we time
    with psycopg.connect(url) as conn:
        for site in sites:
            registry.add_device(conn, site.site_id, shared, **site_details(site))  # type: ignore[arg-type]
        conn.commit()
        write_history(conn, sim)
        add_user(conn, "bench", Role.OPERATOR, PASSWORD, "bench")
        water = {d: s for d, s in conn.execute(
            "SELECT device_id, sensor_id FROM sensors WHERE name = 'water_level'").fetchall()}  # fmt: skip
        streets = [s for s in sites if s.kind == "street" and s.site_id in water]
        for i, site in enumerate(streets[: max(1, n_sites // 50)]):
            raise_alert(conn, site.site_id, water[site.site_id], site.district, site.ward, f"seed-{i}")
        conn.commit()
        quiet = streets[max(1, n_sites // 50) :]
    return [(s.site_id, water[s.site_id], s.district, s.ward) for s in quiet]


class Api:
    def __init__(self, database_url: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "URBANPULSE_DATABASE_URL": database_url}
        env.pop("URBANPULSE_CONFIG", None)
        self.log = log.open("ab")
        command = [sys.executable, "-m", "api", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = subprocess.Popen(command, env=env, cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(lambda: httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200, timeout=60, what="the API")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)
        self.log.close()


def signed_in_page(browser: Browser, url: str) -> Page:
    """A fresh context (empty cache) whose session cookie is set, as after a login earlier."""
    context = browser.new_context(base_url=url, viewport={"width": 1600, "height": 900})
    answer = context.request.post("/api/v1/auth/login", data={"username": "bench", "password": PASSWORD})
    assert answer.ok, answer.text()
    context.add_init_script("localStorage.setItem('urbanpulse.session', '1')")
    return context.new_page()


BACKGROUND = "{id: 'land', type: 'background', paint: {'background-color': '#1a232d'}}"
WATER = "{id: 'water', type: 'fill', source: 'base', filter: ['==', ['get', 'layer'], 'water'], paint: {'fill-color': '#0f3350'}}"  # noqa: E501
RIVERS = "{id: 'rivers', type: 'line', source: 'base', filter: ['==', ['get', 'layer'], 'river'], paint: {'line-color': '#24587f'}}"  # noqa: E501
BASE = "{base: {type: 'geojson', maxzoom: 9, data: '/static/basemap/hcmc.geojson'}}"
FLOOR_STYLES = {
    "blank MapLibre map": f"{{version: 8, sources: {{}}, layers: [{BACKGROUND}]}}",
    "base map only": f"{{version: 8, sources: {BASE}, layers: [{BACKGROUND}, {WATER}, {RIVERS}]}}",
}
FLOOR_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<link rel="modulepreload" href="/static/vendor/maplibre-gl/maplibre-gl.mjs">
<link rel="stylesheet" href="/static/vendor/maplibre-gl/maplibre-gl.css"><style>body{margin:0}</style></head>
<body><div id="map" style="width:%dpx;height:%dpx"></div><script type="module">
import * as maplibregl from '/static/vendor/maplibre-gl/maplibre-gl.mjs';
const map = new maplibregl.Map({container: 'map', style: %s, center: [106.7, 10.79], zoom: 10.6, fadeDuration: 0});
map.once('idle', () => { window.__floor = performance.now(); });
</script></body></html>"""


def floor_load(browser: Browser, url: str, size: tuple[int, int], style: str) -> float:
    """Seconds from navigation to the first idle frame of a bare map (served by Playwright on the API's origin)."""
    context = browser.new_context(base_url=url, viewport={"width": 1600, "height": 900})
    page = context.new_page()
    body = FLOOR_PAGE % (*size, style)
    page.route("**/bench-floor", lambda route: route.fulfill(content_type="text/html", body=body))
    page.goto("/bench-floor")
    page.wait_for_function("() => window.__floor", timeout=120_000)
    ready: float = page.evaluate("() => window.__floor")
    context.close()
    return ready / 1000


def map_size(browser: Browser, url: str) -> tuple[int, int]:
    page = signed_in_page(browser, url)
    page.goto("/")
    page.wait_for_selector("body[data-ready='true']", timeout=120_000)
    size: list[int] = page.evaluate("() => { const c = __urbanpulse.map.map.getCanvas(); return [c.width, c.height]; }")
    page.context.close()
    return size[0], size[1]


@dataclasses.dataclass(frozen=True)
class Load:
    drawn_s: float  # the page's mark: the first idle frame with every site drawn (it then sets data-ready)
    idle_s: float  # MapLibre's next idle frame after data-ready was seen (the earlier measure)
    transferred: int


def first_load(browser: Browser, url: str) -> Load:
    page = signed_in_page(browser, url)
    page.goto("/")
    page.wait_for_selector("body[data-ready='true']", timeout=120_000)
    result = page.evaluate(READY)
    page.context.close()
    return Load(result["drawn"] / 1000, result["ready"] / 1000, int(result["transferred"]))


def city(
    n_sites: int, workdir: Path, pg: PostgresServer
) -> tuple[str, list[tuple[str, int, str | None, str | None]], Api]:
    url = pg.create_database(f"city_{n_sites}")
    migrate(url)
    began = time.perf_counter()
    quiet = seed(url, n_sites)
    print(f"seeded {n_sites} sites in {time.perf_counter() - began:.1f} s", flush=True)
    return url, quiet, Api(url, workdir / f"api-{n_sites}.log")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument("--reference-sites", type=int, default=48)
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--loads", type=int, default=3, help="first loads timed per city (median reported)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="urbanpulse-bench-web-"))
    workdir.chmod(0o755)
    pg = PostgresServer(workdir / "pg", PostgresOptions(durable=False, max_connections=100))
    pg.start()
    apis: list[Api] = []
    try:
        with sync_playwright() as playwright:
            cities = {n: city(n, workdir, pg) for n in (args.reference_sites, args.sites)}
            apis.extend(api for _, _, api in cities.values())
            for mode in ("software", "swiftshader"):
                browser = launch(playwright, gpu_compositing=mode == "swiftshader")
                loads: dict[int, list[Load]] = {}
                for n, (_, _, api) in cities.items():
                    first_load(browser, api.url)  # warms the API's caches and the OS page cache, not the browser's
                    loads[n] = [first_load(browser, api.url) for _ in range(args.loads)]
                ref_s = statistics.median(load.drawn_s for load in loads[args.reference_sites])
                for n, runs in loads.items():
                    s = statistics.median(load.drawn_s for load in runs)
                    idle = statistics.median(load.idle_s for load in runs)
                    kb = statistics.median(load.transferred for load in runs) / 1024
                    each = ", ".join(
                        f"{r.drawn_s:.2f} s / {r.idle_s:.2f} s {r.transferred / 1024:,.0f} KiB" for r in runs
                    )
                    print(f"[{mode}] first load, {n:>6} sites: every site drawn {s:.2f} s, next idle {idle:.2f} s, "
                          f"{kb:,.0f} KiB (runs: {each}); {s / ref_s:.2f}x the {args.reference_sites}-site load",
                          flush=True)  # fmt: skip
                url = cities[args.sites][2].url
                size = map_size(browser, url)
                for name, style in FLOOR_STYLES.items():
                    floor_load(browser, url, size, style)  # the same warm-up as above
                    runs_s = [floor_load(browser, url, size, style) for _ in range(args.loads)]
                    print(f"[{mode}] floor, {name} ({size[0]}x{size[1]} px): {statistics.median(runs_s):.2f} s "
                          f"(runs {', '.join(f'{t:.2f}' for t in runs_s)})", flush=True)  # fmt: skip
                browser.close()
            browser = launch(playwright)
            db, quiet, api = cities[args.sites]
            page = signed_in_page(browser, api.url)
            page.goto("/")
            page.wait_for_selector("body[data-ready='true']", timeout=120_000)
            marker, row = [], []
            with psycopg.connect(db, autocommit=True) as conn:
                for i, (device_id, sensor_id, district, ward) in enumerate(quiet[: args.changes]):
                    site = page.evaluate(f"() => __urbanpulse.state.sites.get('{device_id}').geometry.coordinates")
                    page.evaluate(f"() => __urbanpulse.map.map.jumpTo({{center: {site}, zoom: 17}})")
                    page.wait_for_function(
                        f"() => __urbanpulse.map.renderedStatus('{device_id}') === 'normal'", timeout=30_000
                    )
                    with conn.transaction():
                        t0 = time.time()
                        alert_id = raise_alert(conn, device_id, sensor_id, district, ward, f"live-{i}")
                    seen = page.evaluate(WATCH, [device_id, alert_id])
                    marker.append(seen["marker"] / 1000 - t0)
                    row.append(seen["row"] / 1000 - t0)
            for name, values in (("marker redrawn", marker), ("console row shown", row)):
                print(
                    f"alert change -> {name}: median {statistics.median(values) * 1000:.0f} ms, "
                    f"max {max(values) * 1000:.0f} ms over {len(values)} changes"
                )
            browser.close()
    finally:
        for api in apis:
            api.stop()
        pg.stop()


if __name__ == "__main__":
    main()
