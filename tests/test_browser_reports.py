"""The head's landing page in a real browser: after login a department head is on the dashboard (工作台)
and its charts are drawn (server-made SVG: bars with a size on screen, pixels in the chart area)."""
from __future__ import annotations

import io
import json
import urllib.request
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

# The fixtures are imported so pytest finds them here (browser_support is not a conftest).
from tests.browser_support import TIMEZONE, archive_server, browser, live_server, new_context  # noqa: F401

pytestmark = pytest.mark.browser
HEAD_PASSWORD = "Head-Browser-Pw-2024!"


def _post(base: str, token: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as resp:
        return json.loads(resp.read())


def test_a_head_lands_on_the_dashboard_with_its_chart_drawn(browser, archive_server) -> None:  # noqa: F811
    from playwright.sync_api import expect

    archive_server.cli("create-user", "head1", "--role", "dept_head", "--password", HEAD_PASSWORD,
                       "--department", "销售一部", "--display-name", "王经理")
    token = archive_server.cli("create-token", "admin").strip()
    today = datetime.now(ZoneInfo(TIMEZONE)).date().isoformat()
    for name, grade in (("赵一", "A"), ("钱二", "B"), ("孙三", "B")):
        customer = _post(archive_server.url, token, "/api/v1/customers", {"name": name, "department": "销售一部"})
        _post(archive_server.url, token, f"/api/v1/customers/{customer['id']}/cards",
              {"visit_dates": [today], "grade": grade})

    context = new_context(browser, archive_server.url)
    page = context.new_page()
    try:
        page.goto("/login")
        page.locator("input[name=username]").fill("head1")
        page.locator("input[name=password]").fill(HEAD_PASSWORD)
        page.get_by_role("button", name="登录").click()
        expect(page.locator("h1")).to_contain_text("工作台")
        assert page.url.endswith("/dashboard")
        charts = page.locator("#dashboard-charts svg")
        expect(charts).to_have_count(2)
        expect(page.locator("#dashboard-charts")).to_contain_text("销售一部")
        # The grade chart: bars drawn with a real size on screen (B, two customers, twice A's height).
        grade_chart = charts.nth(1)
        expect(grade_chart.locator("title").first).to_have_text("各等级客户数（本周末）")
        boxes = [grade_chart.locator("rect.bar").nth(i).bounding_box() for i in range(4)]
        assert boxes[0]["width"] > 5 and boxes[0]["height"] > 5, boxes
        assert boxes[1]["height"] == pytest.approx(2 * boxes[0]["height"], rel=0.05)
        # The screenshot of the chart holds the bars' colour, not only the white background.
        shot = Image.open(io.BytesIO(grade_chart.screenshot())).convert("RGB")
        colours = shot.getcolors(maxcolors=shot.width * shot.height)
        total = shot.width * shot.height
        drawn = sum(n for n, rgb in colours if rgb != (255, 255, 255))
        bar_blue = sum(n for n, (r, g, b) in colours if b > 120 and r < 80 and g < 130)
        assert drawn > total * 0.02 and bar_blue > 200, (drawn, bar_blue, total)
        # This week's visits: one bar in the weekly chart, three visits.
        week_bars = charts.nth(0).locator("rect.bar")
        heights = [week_bars.nth(i).bounding_box()["height"] for i in range(week_bars.count())]
        assert sum(1 for h in heights if h > 0) == 1
        expect(page.locator(".tile", has_text="本周来访").locator(".tile-count")).to_have_text("3")
    finally:
        context.close()
