"""The dashboard's files over real HTTP: compressed once and served with validators (ETag, 304),
cache lifetimes by kind, nothing outside the static folder."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx

from api.http.assets import StaticAssets
from tests.harness import ApiProcess

STATIC = Path(__file__).resolve().parents[2] / "api" / "web" / "static"
MAPLIBRE = "vendor/maplibre-gl/maplibre-gl.mjs"


def test_files_come_gzipped_with_an_etag_and_revalidate_to_304(api: ApiProcess) -> None:
    raw = (STATIC / MAPLIBRE).read_bytes()
    with api.client() as client:
        packed = client.get(f"/static/{MAPLIBRE}", headers={"Accept-Encoding": "gzip"})
        assert packed.status_code == 200 and packed.headers["content-encoding"] == "gzip"
        assert packed.headers["content-type"].startswith("text/javascript")
        assert packed.content == raw  # as httpx undid the gzip
        assert int(packed.headers["content-length"]) < len(raw) / 3
        assert packed.headers["cache-control"] == "no-cache" and packed.headers["vary"] == "Accept-Encoding"
        plain = client.get(f"/static/{MAPLIBRE}", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.content == raw
        assert plain.headers["etag"] != packed.headers["etag"]  # one validator per representation
        etag = packed.headers["etag"]
        again = client.get(f"/static/{MAPLIBRE}", headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == packed.headers["etag"]
        stale = client.get(f"/static/{MAPLIBRE}", headers={"Accept-Encoding": "gzip", "If-None-Match": '"other"'})
        assert stale.status_code == 200 and stale.content == raw
        page = client.get("/", headers={"Accept-Encoding": "gzip"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.text == (STATIC / "index.html").read_text() and page.headers["cache-control"] == "no-cache"


def test_fonts_and_the_base_map_may_be_reused_for_a_day_and_woff2_is_not_recompressed(api: ApiProcess) -> None:
    font = next((STATIC / "vendor" / "fonts").glob("*.woff2")).relative_to(STATIC).as_posix()
    with api.client() as client:
        answer = client.get(f"/static/{font}", headers={"Accept-Encoding": "gzip"})
        assert answer.status_code == 200 and "content-encoding" not in answer.headers
        assert answer.headers["content-type"] == "font/woff2"
        assert answer.headers["cache-control"] == "public, max-age=86400"
        base = client.get("/static/basemap/hcmc.geojson", headers={"Accept-Encoding": "gzip"})
        assert base.headers["content-type"] == "application/geo+json" and base.headers["content-encoding"] == "gzip"
        assert base.headers["cache-control"] == "public, max-age=86400"


def test_nothing_outside_the_static_folder_and_no_writes(api: ApiProcess) -> None:
    with api.client() as client:
        for path in ("/static/../../pyproject.toml", "/static/%2e%2e/%2e%2e/pyproject.toml", "/static/js",
                     "/static/nothing-here.js", "/static/"):  # fmt: skip
            assert client.get(path).status_code == 404, path
        assert client.post("/static/js/app.js").status_code == 404
    assert httpx.get(f"{api.url}/static/js/app.js").status_code == 200


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    (tmp_path / "basemap").mkdir()
    file = tmp_path / "basemap" / "x.geojson"
    file.write_text('{"type": "FeatureCollection", "features": []}' * 100)
    assets = StaticAssets(tmp_path)
    first = assets.asset("basemap/x.geojson")
    assert first is not None and first.gzipped is not None and gzip.decompress(first.gzipped) == first.body
    assert first.cache_control == "public, max-age=86400" and assets.asset("basemap/x.geojson") is first
    file.write_text("{}")
    second = assets.asset("basemap/x.geojson")
    assert second is not None and second.body == b"{}" and second.etag != first.etag
    assert second.gzipped is None  # too small to gain from gzip
    assert assets.asset("../x") is None and assets.asset("basemap") is None
