"""Response headers and what they demand of the pages: a content security policy with no inline script
or style (so no template may carry any), a favicon, and a session cookie Secure over HTTPS."""
from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from archive_app.config import load_config
from archive_app.errors import ConfigError

from .conftest import csrf_from, make_app
from .helpers import PDF_MIN, login, new_customer, upload

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
EXPECTED_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; "
                "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")

# What the policy refuses to run, as it would be written in a template.
INLINE_IN_TEMPLATE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>"  # a script element without src
    r"|<style\b"  # a style element
    r"|\sstyle\s*="  # a style attribute
    r"|\son[a-z]+\s*="  # an event-handler attribute
    r"|javascript:",  # a javascript: URL
    re.IGNORECASE)


class InlineFinder(HTMLParser):
    """Collects every inline script or style of a rendered page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script":
            self._in_script = True
            if not names.get("src"):
                self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style>")
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.found.append(f"<{tag} {name}=…>")
            if name in {"href", "src", "action", "formaction"} and (value or "").strip().lower().startswith(
                    "javascript:"):
                self.found.append(f"<{tag} {name}=javascript:…>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.found.append("script content")


def inline_code(html: str) -> list[str]:
    finder = InlineFinder()
    finder.feed(html)
    return finder.found


def test_no_template_carries_inline_script_or_style():
    offenders = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if INLINE_IN_TEMPLATE.search(line):
                offenders.append(f"{path.relative_to(TEMPLATES)}:{n}: {line.strip()[:100]}")
    assert offenders == []


def test_every_page_an_admin_reaches_runs_under_the_policy(app, client, users):
    """Each page a signed-in admin can open renders with the full policy and nothing inline in it."""
    login(client, "admin")
    customer = new_customer(client)
    record = upload(client, customer["id"], [(PDF_MIN, "合同.pdf")]).json
    ids = {"customer_id": customer["id"], "record_id": record["id"]}
    pages = ["/no-such-page", f"/records/{record['id'] + 1000}"]  # the error page too
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.rule.startswith(("/api/", "/static/")):
            continue
        if set(rule.arguments) <= set(ids):
            pages.append(app.url_map.bind("localhost").build(rule.endpoint, {k: ids[k] for k in rule.arguments}))
    checked = 0
    for path in pages:
        resp = client.get(path)
        assert resp.headers["Content-Security-Policy"] == EXPECTED_CSP, path
        if resp.mimetype != "text/html" or resp.status_code in (301, 302, 303):
            continue
        assert resp.status_code in (200, 403, 404), (path, resp.status_code)  # an admin asks no loans
        assert inline_code(resp.text) == [], path
        checked += 1
    assert checked >= 25  # customers, records, loans, retention, admin, audit pages and the error page
    # the API and a signed-out page carry the same policy
    assert client.get("/api/v1/me").headers["Content-Security-Policy"] == EXPECTED_CSP
    client.post("/logout")
    login_page = client.get("/login")
    assert login_page.headers["Content-Security-Policy"] == EXPECTED_CSP
    assert inline_code(login_page.text) == []


def test_the_favicon_is_an_icon_every_page_links(app, client, users):
    ico = client.get("/favicon.ico")
    assert ico.status_code == 200 and ico.mimetype == "image/vnd.microsoft.icon"
    with Image.open(io.BytesIO(ico.data)) as img:
        assert img.format == "ICO" and (32, 32) in img.info["sizes"]
    assert "no-store" not in ico.headers.get("Cache-Control", "")
    page = client.get("/login").text
    svg_link = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', page)
    assert svg_link is not None
    with client.get(svg_link.group(1)) as svg:
        assert svg.status_code == 200 and svg.data.startswith(b"<svg")
    assert 'href="/favicon.ico"' in page


# --------------------------------------------------------------------------------- the cookie


def _session_cookie(app, base_url: str = "http://localhost", headers: dict[str, str] | None = None) -> str:
    client = app.test_client()
    page = client.get("/login", base_url=base_url, headers=headers)
    # Over HTTPS Flask-WTF also wants a same-site Referer, as a browser sends.
    resp = client.post("/login", data={"username": "archivist", "password": "correct-horse-9",
                                       "csrf_token": csrf_from(page.text)}, base_url=base_url,
                       headers=(headers or {}) | {"Referer": f"{base_url}/login"})
    assert resp.status_code == 302, resp.text
    return next(c for c in resp.headers.getlist("Set-Cookie") if c.startswith("session="))


@pytest.mark.parametrize("mode", ["auto", "true", "false"])
def test_the_session_cookie_is_secure_over_https(mode, tmp_path, request, users_factory):
    app = make_app("sqlite-fs", tmp_path, request,
                   {"WTF_CSRF_ENABLED": True, "TESTING": False,
                    "COOKIE_SECURE": mode})
    users_factory(app)
    over_http = _session_cookie(app)
    over_https = _session_cookie(app, base_url="https://localhost")
    via_proxy = _session_cookie(app, headers={"X-Forwarded-Proto": "https"})
    for cookie in (over_http, over_https, via_proxy):
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    secure = ["Secure" in c.split("; ") for c in (over_http, over_https, via_proxy)]
    assert secure == {"auto": [False, True, True], "true": [True] * 3, "false": [False] * 3}[mode]


def test_cookie_secure_setting_is_auto_unless_told(tmp_path):
    base = {"ARCHIVE_DATA_DIR": str(tmp_path), "ARCHIVE_SECRET_KEY": "k", "ARCHIVE_AUDIT_KEY": "a"}
    assert load_config(base)["COOKIE_SECURE"] == "auto"
    assert load_config(base | {"ARCHIVE_COOKIE_SECURE": "TRUE"})["SESSION_COOKIE_SECURE"] is True
    assert load_config(base | {"ARCHIVE_COOKIE_SECURE": "false"})["SESSION_COOKIE_SECURE"] is False
    with pytest.raises(ConfigError):
        load_config(base | {"ARCHIVE_COOKIE_SECURE": "sometimes"})
