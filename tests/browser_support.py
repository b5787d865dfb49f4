"""Shared fixtures and helpers for the real-browser tests: a live ``archive serve`` and Chromium.

Test modules import the fixtures they use by name (``from tests.browser_support import browser,
live_server``); it is not a conftest, so nothing here runs for the rest of the suite.

``archive_server`` runs ``archive init`` and ``archive serve`` (gunicorn + the background worker)
on a fresh data dir with SQLite and the file store, one per test module; ``live_server`` is its
base URL. ``browser`` is Debian's Chromium at /usr/bin/chromium driven by Playwright, which never
downloads a browser here (``scripts/install-browser.sh`` installs Chromium). When that binary is
absent the tests fail, never skip.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_PASSWORD = "Browser-Test-Pw-2024!"
TIMEZONE = "Asia/Shanghai"
REPO = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT = 20.0
STEP_TIMEOUT_MS = 10_000
# A phone in portrait (iPhone 12–15 class): the approver pages must work at this size.
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True,
         "has_touch": True}


def require_chromium() -> None:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is not installed; run scripts/install-browser.sh")


def _archive_script() -> str:
    """The ``archive`` console script installed next to the running interpreter."""
    candidate = Path(sys.executable).parent / "archive"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("archive")
    if found is None:
        pytest.fail(f"`archive` console script not found next to {sys.executable} nor on PATH; "
                    "run `pip install -e '.[test]'`")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    env.update({
        "ARCHIVE_DATA_DIR": str(data_dir),
        "ARCHIVE_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "ARCHIVE_STORAGE_BACKEND": "fs",
        "ARCHIVE_TIMEZONE": TIMEZONE,
        "PYTHONUNBUFFERED": "1",
        # The server is local; keep any configured HTTP proxy out of the way.
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    })
    return env


def _answers(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=1) as resp:
            return resp.status == 200
    except urllib.error.HTTPError:
        return True  # it answered HTTP, even if not 200
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class ArchiveServer:
    """A running ``archive serve`` on a data dir this test module owns."""

    url: str
    data_dir: Path
    env: dict[str, str] = field(repr=False)
    archive: str
    # The `archive serve` process: gunicorn's master, whose children are its workers.
    pid: int = 0

    @property
    def sqlite_path(self) -> Path:
        """The embedded default database (``sqlite:///{data_dir}/archive.db``)."""
        return self.data_dir / "archive.db"

    def cli(self, *args: str, timeout: float = 60) -> str:
        """Run an ``archive`` command the way an administrator would, on this server's data dir."""
        done = subprocess.run([self.archive, *args], env=self.env, cwd=self.data_dir.parent,
                              capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            pytest.fail(f"`archive {' '.join(args)}` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done.stdout


@contextmanager
def running_archive(root: Path, *serve_args: str, settings: dict[str, str] | None = None) -> Iterator[ArchiveServer]:
    """`archive init` + `archive serve *serve_args` on a fresh data dir under ``root``, stopped on exit.

    ``settings`` adds ARCHIVE_* variables (e.g. another database) to the embedded default's.
    """
    data_dir = root / "data"
    env = _server_env(data_dir) | (settings or {})
    archive = _archive_script()

    init = subprocess.run([archive, "init"], env=env, cwd=root, capture_output=True, text=True, timeout=60)
    if init.returncode != 0:
        pytest.fail(f"`archive init` failed ({init.returncode}):\n{init.stdout}\n{init.stderr}")

    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = root / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([archive, "serve", "--host", "127.0.0.1", "--port", str(port), *serve_args],
                                env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT)

    def server_log() -> str:
        return log_path.read_text(encoding="utf-8", errors="replace")

    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _answers(f"{base_url}/login"):
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode} before answering:\n{server_log()}")
            if time.monotonic() > deadline:
                pytest.fail(f"server did not answer on {base_url}/login within {STARTUP_TIMEOUT:.0f} s:\n"
                            f"{server_log()}")
            time.sleep(0.1)
        yield ArchiveServer(url=base_url, data_dir=data_dir, env=env, archive=archive, pid=proc.pid)
    finally:
        proc.terminate()
        try:
            # Graceful: gunicorn stops, then `archive serve` stops its background worker (takes ~5 s).
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        # Show the server's output under the failing test's report (pytest prints captured output
        # of failed tests only).
        print(f"--- archive serve output ({log_path}) ---\n{server_log()}")


@pytest.fixture(scope="module")
def archive_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArchiveServer]:
    """Run `archive init` + `archive serve` in a temp data dir (one per test module)."""
    require_chromium()
    with running_archive(tmp_path_factory.mktemp("browser")) as server:
        yield server


@pytest.fixture(scope="module")
def live_server(archive_server: ArchiveServer) -> str:
    """The base URL of this module's ``archive serve``."""
    return archive_server.url


@pytest.fixture(scope="module")
def browser():
    require_chromium()
    import playwright.sync_api as sync_api
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def new_context(browser, base_url: str, **options):
    """A fresh browser context (its own cookies: one per user), Chinese locale, short step timeout."""
    context = browser.new_context(base_url=base_url, locale="zh-CN", timezone_id=TIMEZONE, **options)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    return context


def open_menu_entry(page, group: str, label: str, *, tap: bool = False) -> None:
    """Open ``label`` from the header's ``group`` menu the way a person does: on a phone first
    「菜单」, then the group's title, then the page."""
    press = "tap" if tap else "click"
    # The stylesheet decides whether 「菜单」 shows; before it has loaded the button looks visible
    # on a desktop window too, and then hides while the click waits for it.
    page.wait_for_load_state("load")
    button = page.locator("[data-menu-toggle]")
    if button.is_visible():
        getattr(button, press)()
    getattr(page.locator("nav details.menu > summary", has_text=group), press)()
    getattr(page.locator("nav .menu-items").get_by_role("link", name=label), press)()


def follow_link(page, name: str, url: str) -> None:
    """Click the link ``name`` and wait until the page at ``url`` (a regex) has loaded: its
    scripts are deferred, so a control they drive (the type's 部分, 增加到访日期, an XHR upload)
    does nothing until then."""
    from playwright.sync_api import expect

    page.get_by_role("link", name=name).click()
    expect(page).to_have_url(re.compile(url))
    page.wait_for_load_state("load")


def page_width(page) -> tuple[int, int]:
    """(the document's width, the window's) in CSS px: a page fits when the first is not the larger."""
    width, window = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    return width, window


def log_in(page, username: str, password: str) -> None:
    """Sign in through the login form and land on the dashboard (工作台)."""
    from playwright.sync_api import expect

    page.goto("/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("h1")).to_contain_text("工作台")
