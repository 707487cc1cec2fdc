"""The operations centre through a monsoon storm, in a real browser on the real stack.

An operator logs in; the map shows every site; the storm's readings arrive through the broker and
the ingestor, the forecast service and the alert engine run, and a flood-forecast alert appears in
the console and on the map without a reload; the street's panel draws the forecast band and the
alarm threshold; the operator acknowledges with a note and a viewer's browser sees it acknowledged
live, with no button to acknowledge anything. Screenshots of each step go to
test-artifacts/web/monsoon_storm/.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from api.roles import Role
from tests.harness import Stack
from tests.web.browser import Shots
from tests.web.conftest import OpenSession
from tests.web.storm import STALE_AFTER_ENV, StormCity, firing

LIVE_S = 30_000  # ms the browser gets to show a change that the stream carries

# What a chart drew, read back from its canvas (transparent where nothing was drawn): pixels of the
# threshold's colour along its row, and forecast steps whose column holds the translucent band fill
# between the 95 % band's edges (the forecast line itself is opaque, so it cannot pass for the band).
CHART_PIXELS = """(el) => {
  const u = el.uplot, ctx = u.ctx, d = u.data, left = Math.round(u.bbox.left), width = Math.round(u.bbox.width);
  const threshold = Number(el.dataset.threshold);
  const y = Math.round(u.valToPos(threshold, 'y', true));
  const row = ctx.getImageData(left, y - 1, width, 3).data;
  let thresholdPx = 0;
  for (let i = 0; i < row.length; i += 4) {
    if (row[i + 3] > 200 && row[i] > 200 && row[i + 1] > 80 && row[i + 1] < 160 && row[i + 2] < 110) thresholdPx++;
  }
  let checked = 0, banded = 0;
  for (let i = 0; i < d[0].length; i++) {
    if (d[8][i] == null || d[7][i] == null) continue;
    const x = Math.round(u.valToPos(d[0][i], 'x', true));
    if (x < left || x >= left + width) continue;
    const top = Math.round(u.valToPos(d[8][i], 'y', true)), bottom = Math.round(u.valToPos(d[7][i], 'y', true));
    if (bottom - top < 2) continue;
    checked++;
    const column = ctx.getImageData(x, top, 1, bottom - top).data;
    for (let j = 0; j < column.length; j += 4) {
      if (column[j + 3] > 8 && column[j + 3] < 200 && column[j + 2] > column[j] + 40) { banded++; break; }
    }
  }
  return {thresholdPx: thresholdPx / 3, width, checked, banded, threshold};
}"""


def rendered_sites(page: Page) -> int:
    """Sites the map draws now: single markers plus the members of every cluster on screen."""
    return int(
        page.evaluate("""() => __urbanpulse.map.map.queryRenderedFeatures({layers: ['clusters', 'sites']})
        .reduce((n, f) => n + (f.properties.point_count || 1), 0)""")
    )


def test_monsoon_storm_in_the_operations_centre(stack: Stack, open_session: OpenSession) -> None:
    city = StormCity.build(stack)
    city.seed()
    operator_password = stack.add_user("duty-officer", Role.OPERATOR)
    viewer_password = stack.add_user("observer", Role.VIEWER)
    api = stack.start_api(STALE_AFTER_ENV)
    shots = Shots("monsoon_storm")
    try:
        # 1. the operator logs in: every site is on the map, no flood warning yet
        operator = open_session(api.url).login("duty-officer", operator_password)
        expect(operator.locator(".legend-row[data-status='normal'] b")).not_to_have_text("0")
        operator.wait_for_function("() => __urbanpulse.map.map.loaded()")
        assert rendered_sites(operator) == len(city.sites) == 48
        with stack.connect() as conn:
            assert not firing(conn, "flood-forecast"), "the warning must come while the operator watches"
        shots.take(operator, "map-every-site")

        viewer = open_session(api.url).login("observer", viewer_password)
        operator.evaluate("() => { window.notReloaded = true; }")

        # 2. the storm arrives through the broker and the ingestor; a flood warning appears live
        with stack.connect() as conn:
            city.until(lambda: bool(firing(conn, "flood-forecast")), "a flood-forecast alert")
            alert_id, device_id = firing(conn, "flood-forecast")[0]
        row = operator.locator(f".alert-row[data-alert-id='{alert_id}']")
        expect(row).to_be_visible(timeout=LIVE_S)
        expect(row).to_have_attribute("data-state", "firing")
        assert operator.evaluate("() => window.notReloaded") is True, "the page was reloaded"
        expect(operator, "a badge in the title").to_have_title(re.compile(r"^\("))
        shots.take(operator, "flood-warning-live")

        # 3. that street's panel: forecast band and threshold drawn, times in Ho Chi Minh City
        row.click()
        operator.wait_for_selector(f"#site-panel[data-loaded='{device_id}']", timeout=LIVE_S)
        with stack.connect() as conn:
            (sensor_id,) = conn.execute("SELECT sensor_id FROM alerts WHERE alert_id = %s", (alert_id,)).fetchone() or (
                0,
            )
        chart = operator.locator(f"#chart-{sensor_id}")
        expect(chart).to_be_visible()
        drawn: dict[str, Any] = chart.evaluate(CHART_PIXELS)
        assert drawn["threshold"] > 0 and drawn["thresholdPx"] > 0.4 * drawn["width"], drawn
        assert drawn["checked"] >= 10 and drawn["banded"] >= 0.8 * drawn["checked"], drawn
        # the site's marker follows its own 'site' event, drawn by MapLibre after its worker re-tiles the source
        operator.wait_for_function(f"() => ['alarm', 'watch'].includes(__urbanpulse.map.renderedStatus('{device_id}'))",
                                   timeout=LIVE_S)  # fmt: skip
        expect(operator.locator("#site-panel .chart-note").first).to_contain_text("UTC+7")
        operator.click("#site-panel .window-switch button:nth-child(2)")  # the last 6 h: the forecast up close
        expect(operator.locator("#site-panel .chart-note").first).to_contain_text("6")
        shots.take(operator, "street-panel-forecast")

        # 4. acknowledged with a note; the viewer's browser sees it live
        expect(viewer.locator(f".alert-row[data-alert-id='{alert_id}']")).to_have_attribute("data-state", "firing")
        row.locator("[data-action='ack']").click()
        operator.fill("#dialog-note", "Bơm lưu động đã điều tới / pumps dispatched")
        operator.click("#dialog button[type=submit]")
        expect(row).to_have_attribute("data-state", "acknowledged", timeout=LIVE_S)
        shots.take(operator, "acknowledged")
        seen = viewer.locator(f".alert-row[data-alert-id='{alert_id}']")
        expect(seen).to_have_attribute("data-state", "acknowledged", timeout=LIVE_S)
        expect(seen).to_contain_text("pumps dispatched")
        expect(seen).to_contain_text("duty-officer")

        # 5. the viewer may look but not act: no buttons, and the API refuses too
        assert viewer.locator("[data-action='ack'], .bulkbar button, .alert-row input[type=checkbox]").count() == 0
        seen.click()
        expect(viewer.locator(".detail .trail")).to_contain_text("duty-officer")
        assert viewer.locator(".detail [data-action]").count() == 0
        shots.take(viewer, "viewer-sees-acknowledged")
        with api.login("observer", viewer_password) as client:
            refused = client.post(f"/api/v1/alerts/{alert_id}/ack", json={"note": "not mine to do"})
            assert refused.status_code == 403
    finally:
        city.close()
