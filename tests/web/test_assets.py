"""The dashboard's files: shipped in the wheel, vendored at the pinned versions, complete in both
languages, and every ES module import pointing at a file that exists (there is no build step to
catch a typo)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.web.browser import REPO

WEB = REPO / "api" / "web"
STATIC = WEB / "static"


def test_the_wheel_ships_a_working_dashboard(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
                   check=True, cwd=tmp_path)  # fmt: skip
    (wheel,) = tmp_path.glob("urbanpulse-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"api/web/static/{p.relative_to(STATIC).as_posix()}" for p in STATIC.rglob("*") if p.is_file()}
    assert "api/web/static/index.html" in expected
    assert "api/web/static/vendor/maplibre-gl/maplibre-gl-worker.mjs" in expected
    assert "api/web/static/basemap/hcmc.geojson" in expected
    missing = sorted(expected - names)
    assert not missing, f"not in the wheel: {missing[:10]}"
    assert not any("node_modules" in n or n.startswith("api/web/vendor/") for n in names), "dev-only files shipped"


def test_vendored_files_are_the_pinned_versions_and_listed_with_their_licences() -> None:
    lock = json.loads((WEB / "vendor" / "package-lock.json").read_text())
    wanted = json.loads((WEB / "vendor" / "package.json").read_text())["dependencies"]
    versions = dict(
        line.split(" ")[0].rsplit("@", 1) for line in (STATIC / "vendor" / "VERSIONS.txt").read_text().splitlines()
    )
    notice = (STATIC / "vendor" / "THIRD_PARTY.md").read_text()
    for name, pinned in wanted.items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == pinned == versions[name]
        assert f"| {pinned} |" in notice and name.split("/")[-1] in notice
    for licence in ("maplibre-gl/LICENSE.txt", "uplot/LICENSE", "fonts/OFL.txt"):
        assert (STATIC / "vendor" / licence).stat().st_size > 500
    assert "LGPL" in (STATIC / "basemap" / "SOURCE.md").read_text()


def _keys(path: Path) -> set[str]:
    return set(re.findall(r"^\s*'?([\w.-]+)'?:\s", path.read_text(), flags=re.MULTILINE))


def test_both_languages_have_every_text() -> None:
    vi, en = _keys(STATIC / "js" / "locales" / "vi.js"), _keys(STATIC / "js" / "locales" / "en.js")
    assert len(vi) > 200
    assert vi - en == set() and en - vi == set()
    used = set()
    for module in (STATIC / "js").glob("*.js"):
        used |= set(re.findall(r"\bt\('([a-z0-9_]+)'", module.read_text()))
    used |= set(re.findall(r'data-i18n(?:-\w+)?="([a-z_]+)"', (STATIC / "index.html").read_text()))
    assert used - en == set(), "texts used but not translated"


def test_every_module_import_and_page_reference_resolves() -> None:
    for module in [*(STATIC / "js").rglob("*.js")]:
        for target in re.findall(r"^import .* from '(\.[^']+)';", module.read_text(), flags=re.MULTILINE):
            assert (module.parent / target).resolve().is_file(), f"{module.name}: {target}"
    page = (STATIC / "index.html").read_text()
    for ref in re.findall(r'(?:href|src)="/static/([^"]+)"', page):
        assert (STATIC / ref).is_file(), ref


def _static_imports(module: Path, seen: list[Path]) -> list[Path]:
    if module not in seen:
        seen.append(module)
        for target in re.findall(r"^import .* from '(\.[^']+)';", module.read_text(), flags=re.MULTILINE):
            _static_imports((module.parent / target).resolve(), seen)
    return seen


def test_the_page_preloads_every_module_of_its_first_load_and_only_those() -> None:
    """The modules app.js imports (at any depth) are fetched at once from index.html's modulepreload
    list instead of level by level; chart.js and uPlot, imported when a panel opens, are not."""
    page = (STATIC / "index.html").read_text()
    preloaded = {STATIC / ref for ref in re.findall(r'<link rel="modulepreload" href="/static/([^"]+)">', page)}
    graph = set(_static_imports((STATIC / "js" / "app.js").resolve(), []))
    assert preloaded == graph - {(STATIC / "js" / "early.js").resolve()}
    assert '<script type="module" async src="/static/js/early.js">' in page  # loaded on its own, first
    assert (STATIC / "js" / "chart.js").resolve() not in graph
    assert (STATIC / "vendor" / "uplot" / "uPlot.esm.js").resolve() not in graph
