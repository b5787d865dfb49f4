"""End-to-end path in headless Chromium against a real ``archive serve`` process.

Log in → 新建档案 → 上传档案 (XHR with progress bar) → record page shows the 档号 →
the customer page lists it under 第3部分 → 下载 returns the exact bytes uploaded.

Needs Debian's Chromium at /usr/bin/chromium (``scripts/install-browser.sh``); Playwright never
downloads a browser here. The test fails (never skips) when that binary is absent.
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
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

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
REPO = Path(__file__).resolve().parents[1]
SAMPLE_PDF = REPO.parent / "shared" / "testdata" / "ocrmypdf" / "linn.pdf"
ARCHIVAL_CODE = re.compile(r"\d{4}-\d{4}-D30-C\d{6}-3-0001")
STARTUP_TIMEOUT = 20.0
STEP_TIMEOUT_MS = 10_000


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


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run `archive init` + `archive serve` in a temp data dir; yield the base URL."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is not installed; run scripts/install-browser.sh")
    root = tmp_path_factory.mktemp("browser")
    data_dir = root / "data"
    env = _server_env(data_dir)
    archive = _archive_script()

    init = subprocess.run([archive, "init"], env=env, cwd=root, capture_output=True, text=True, timeout=60)
    if init.returncode != 0:
        pytest.fail(f"`archive init` failed ({init.returncode}):\n{init.stdout}\n{init.stderr}")

    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = root / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([archive, "serve", "--host", "127.0.0.1", "--port", str(port)],
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
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        # Show the server's output under the failing test's report (pytest prints captured output
        # of failed tests only).
        print(f"--- archive serve output ({log_path}) ---\n{server_log()}")


@pytest.fixture(scope="module")
def browser():
    import playwright.sync_api as sync_api
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, live_server: str):
    context = browser.new_context(base_url=live_server, accept_downloads=True, locale="zh-CN")
    context.set_default_timeout(STEP_TIMEOUT_MS)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


def test_login_create_upload_download(page, live_server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    expected_bytes = SAMPLE_PDF.read_bytes()

    # Log in as the admin made by `archive init`.
    page.goto("/login")
    page.locator("input[name=username]").fill("admin")
    page.locator("input[name=password]").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("h1")).to_contain_text("客户档案")

    # New customer.
    page.get_by_role("link", name="新建档案").click()
    expect(page).to_have_url(re.compile(r"/customers/new$"))
    page.locator("input[name=name]").fill("李小龙")
    page.locator("input[name=phones]").fill("13800138000")
    page.locator("select[name=business_type]").select_option("购房")
    page.get_by_role("button", name="保存").click()
    expect(page).to_have_url(re.compile(r"/customers/\d+$"))
    customer_url = page.url
    expect(page.locator("h1")).to_contain_text("李小龙")
    for part in (1, 2, 3, 4):
        expect(page.locator("section.part h2").nth(part - 1)).to_contain_text(f"第{part}部分")

    # Upload the contract; upload.js posts with XHR and then navigates to the record page.
    page.get_by_role("link", name="上传档案").click()
    expect(page).to_have_url(re.compile(r"/customers/\d+/upload$"))
    page.locator("select[name=record_type]").select_option("购房合同")
    expect(page.locator("select[name=part]")).to_have_value("3")
    page.locator("input[type=file][name=files]").set_input_files(str(SAMPLE_PDF))
    page.get_by_role("button", name="上传").click()
    expect(page).to_have_url(re.compile(r"/records/\d+$"))
    code_text = page.locator("p.code").inner_text()
    match = ARCHIVAL_CODE.search(code_text)
    assert match, f"no 档号 on the record page: {code_text!r}"
    archival_code = match.group(0)
    expect(page.get_by_role("cell", name=SAMPLE_PDF.name)).to_be_visible()

    # The customer page lists the record under 第3部分.
    page.goto(customer_url)
    part3 = page.locator("section.part").filter(has=page.locator("h2", has_text="第3部分"))
    expect(part3.get_by_role("link", name=archival_code)).to_be_visible()
    for other in (1, 2, 4):
        section = page.locator("section.part").filter(has=page.locator("h2", has_text=f"第{other}部分"))
        expect(section).not_to_contain_text(archival_code)

    screenshot = tmp_path / "customer.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 0

    # Download from the record page: exact bytes back.
    part3.get_by_role("link", name=archival_code).click()
    expect(page).to_have_url(re.compile(r"/records/\d+$"))
    with page.expect_download() as download_info:
        page.get_by_role("link", name="下载").click()
    download = download_info.value
    saved = tmp_path / "downloaded.pdf"
    download.save_as(saved)
    assert saved.read_bytes() == expected_bytes
