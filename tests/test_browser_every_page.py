"""Every page of the site in Chromium against ``archive serve``, at 1366×900 and on a 390×844 phone.

The server's database holds the route walk's world (tests/test_route_walk.py: records under a loan,
a hold, a disposal batch under review and a destruction done, a paper original handed out, a
register imported, visitor cards, a change request…), so each page shows real rows, not an empty
table. Every GET route of the URL map that answers a page is opened as the first of ``ROLES`` that
may read it, once at each size, and must:

* never be wider than the window (no horizontal scrolling: long 题名, 档号 and tables wrap);
* squeeze no table column to one character per line (a 批准人 cell a character wide);
* show its heading.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from archive_app import create_app
from archive_app.accounts.models import User
from archive_app.extensions import db
from tests.browser_support import PHONE, browser, log_in, new_context, page_width, require_chromium, running_archive  # noqa: F401
from tests.conftest import PASSWORD, _cleanup
from tests.test_route_walk import ROUTES, _build, _methods, _url

pytestmark = pytest.mark.browser
DESKTOP = {"viewport": {"width": 1366, "height": 900}}
# Who opens a page: the first of these that may read it (an administrator sees the most pages, an
# archivist the archive's, a head the approvals, the auditor the audit log, a consultant their own).
ROLES = ("admin", "archivist", "head_b", "gm", "auditor", "staff_other")
# Not pages: leaving, and the pending second-factor step of a log-in that is not under way.
NOT_PAGES = {"auth.logout", "auth.login_code"}

# A cell is "squeezed" when it holds two or more characters on lines of one character each.
SQUEEZED_CELLS = """() => [...document.querySelectorAll('td, th')].filter(c => {
    const text = c.innerText.trim();
    if (text.length < 2 || c.offsetParent === null) return false;
    const line = parseFloat(getComputedStyle(c).lineHeight) || 20;
    const chars = text.replace(/\\s+/g, '').length;
    return chars >= 2 && c.clientHeight > line * Math.min(chars, 3) * 0.9 && c.clientWidth < 36;
}).map(c => c.innerText.trim().slice(0, 20))"""


@pytest.fixture(scope="module")
def walked(tmp_path_factory) -> Iterator[tuple]:
    """The server, and the pages each role opens (url lists), found with the app's own test client."""
    require_chromium()
    with running_archive(tmp_path_factory.mktemp("every-page")) as server:
        # The same database, store and keys as the server (its environment), in this process.
        app = create_app({"WTF_CSRF_ENABLED": False}, environ=server.env)
        with app.app_context():
            # `archive init` made an "admin"; the world makes its own, with the tests' password.
            db.session.execute(update(User).where(User.username == "admin").values(username="first_admin"))
            db.session.commit()
            world = _build(app)
        pages: dict[str, list[str]] = {role: [] for role in ROLES}
        clients = {}
        for role in ROLES:
            clients[role] = app.test_client()
            assert clients[role].post("/login", data={"username": role, "password": PASSWORD}).status_code == 302
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if rule.endpoint in NOT_PAGES or rule.endpoint.startswith(("api.", "static")) or \
                    "GET" not in _methods(rule):
                continue
            route = ROUTES[rule.endpoint]
            url = _url(app, rule.endpoint, route.values(world), route.query(world))
            for role in ROLES:
                resp = clients[role].get(url)
                if resp.status_code == 200 and resp.mimetype == "text/html":
                    pages[role].append(url)
                    break
        yield server, pages
        _cleanup(app)


def _problems(page, url: str) -> list[str]:
    found = []
    width, window = page_width(page)
    if width > window:
        found.append(f"{width} px wide in a {window} px window")
    squeezed = page.evaluate(SQUEEZED_CELLS)
    if squeezed:
        found.append(f"columns one character wide: {squeezed[:4]}")
    if not page.locator("h1").first.is_visible():
        found.append("no heading")
    return found


def test_every_page_fits_a_desktop_and_a_phone(walked, browser, tmp_path: Path) -> None:
    server, pages = walked
    opened = sum(len(urls) for urls in pages.values())
    # The walk reaches the archive's pages, not just a handful: every menu's pages and the objects'.
    assert opened >= 45, pages
    for must in ("/audit", "/review", "/paper", "/disposal/register", "/loans/queue", "/reports"):
        assert any(u.split("?")[0] == must for urls in pages.values() for u in urls), must
    print("pages opened:", pages)
    problems: list[str] = []
    for size, options in (("desktop", DESKTOP), ("phone", PHONE)):
        for role, urls in pages.items():
            context = new_context(browser, server.url, **options)
            page = context.new_page()
            try:
                log_in(page, role, PASSWORD)
                for url in urls:
                    answer = page.goto(url)
                    assert answer is not None and answer.status == 200, f"{role} {url}: {answer and answer.status}"
                    found = _problems(page, url)
                    if found:
                        shot = tmp_path / f"{size}-{role}-{len(problems)}.png"
                        page.screenshot(path=str(shot), full_page=True)
                        problems.append(f"{size} {role} {url}: {'; '.join(found)} ({shot})")
            finally:
                context.close()
    assert not problems, "\n".join(problems)
