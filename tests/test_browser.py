"""End-to-end path in headless Chromium against a real ``archive serve`` process.

Log in → 新建档案 → 上传档案 (XHR with progress bar) → record page shows the 档号 →
the customer page lists it under 第3部分 → 下载 returns the exact bytes uploaded.

The server and browser fixtures live in ``tests/browser_support.py``: Debian's Chromium at
/usr/bin/chromium (``scripts/install-browser.sh``), never a downloaded browser; the test fails
(never skips) when that binary is absent.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

# The fixtures are imported so pytest finds them here (browser_support is not a conftest).
from tests.browser_support import (  # noqa: F401
    ADMIN_PASSWORD,
    archive_server,
    browser,
    follow_link,
    live_server,
    new_context,
    open_menu_entry,
)
from tests.generated import pdfs

pytestmark = pytest.mark.browser
ARCHIVAL_CODE = re.compile(r"\d{4}-\d{4}-D30-C\d{6}-3-0001")


@pytest.fixture
def page(browser, live_server: str):
    context = new_context(browser, live_server, accept_downloads=True)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


def test_login_create_upload_download(page, live_server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    # A contract with a text layer, made for this test.
    sample_pdf = tmp_path / "contract.pdf"
    sample_pdf.write_bytes(pdfs.text_pdf(marker="browser test"))
    expected_bytes = sample_pdf.read_bytes()

    # Log in as the admin made by `archive init`.
    page.goto("/login")
    page.locator("input[name=username]").fill("admin")
    page.locator("input[name=password]").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("h1")).to_contain_text("工作台")

    # New customer.
    open_menu_entry(page, "档案", "新建档案")
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
    follow_link(page, "上传档案", r"/customers/\d+/upload$")
    page.locator("select[name=record_type]").select_option("购房合同")
    expect(page.locator("select[name=part]")).to_have_value("3")
    page.locator("input[type=file][name=files]").set_input_files(str(sample_pdf))
    page.get_by_role("button", name="上传").click()
    expect(page).to_have_url(re.compile(r"/records/\d+$"))
    code_text = page.locator("p.code").inner_text()
    match = ARCHIVAL_CODE.search(code_text)
    assert match, f"no 档号 on the record page: {code_text!r}"
    archival_code = match.group(0)
    expect(page.locator("#files").get_by_role("cell", name=sample_pdf.name)).to_be_visible()

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
