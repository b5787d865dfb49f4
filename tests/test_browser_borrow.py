"""Borrowing end to end in headless Chromium against a real ``archive serve`` (issue 4, item 8).

A sales consultant asks to read a 秘密 purchase contract (申请查阅) → the department head approves
on a phone → the general manager approves on a phone (密级 秘密 needs them) → the consultant reads
the page in the viewer, its image stamped with their name, department, the time and the request
number → the approved window closes → the viewer and the image are refused.

Every person has their own browser context (own cookies). The users are made the way an
administrator makes them (用户管理), the customer and the record through the archive pages. Server
and browser fixtures: ``tests/browser_support.py`` (Debian's Chromium; fails, never skips, without it).
"""
from __future__ import annotations

import io
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

# The fixtures are imported so pytest finds them here (browser_support is not a conftest).
from tests.browser_support import (  # noqa: F401
    ADMIN_PASSWORD,
    PHONE,
    TIMEZONE,
    ArchiveServer,
    archive_server,
    browser,
    follow_link,
    live_server,
    log_in,
    new_context,
    open_menu_entry,
    page_width,
)

pytestmark = pytest.mark.browser

PASSWORD = "Borrow-Test-Pw-2024!"
DEPARTMENT = "销售一部"
REQUEST_NO = re.compile(r"JY-\d{4}-\d{6}")
EXTRACTION_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class Person:
    username: str
    display_name: str
    role: str
    department: str = ""
    clearance: str = ""  # "" = the role's default


STAFF = Person("wangxm", "王晓明", "staff", DEPARTMENT, "2")  # 秘密 clearance: may ask for the contract
HEAD = Person("zhangjl", "张建林", "dept_head", DEPARTMENT)
GM = Person("liuzq", "刘志强", "general_manager")


@pytest.fixture
def open_page(browser, live_server: str) -> Iterator[Callable[..., object]]:
    """``open_page(**context_options)``: a page in a new browser context; all closed afterwards."""
    contexts = []

    def make(**options):
        context = new_context(browser, live_server, **options)
        contexts.append(context)
        return context.new_page()

    try:
        yield make
    finally:
        for context in contexts:
            context.close()


def _contract_pdf(path: Path) -> Path:
    """A one-page PDF with a text layer (the worker renders it without OCR: quick)."""
    from reportlab.lib.pagesizes import A5
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A5)
    c.setFont("Helvetica", 13)
    lines = ["Commodity housing purchase contract No. HT-2024-0815", "Buyer: Chen Meihua",
             "Unit 3-1502, Riverside Garden Phase II", "Total price: 2,380,000 CNY, mortgage 30 years"]
    for i, line in enumerate(lines):
        c.drawString(40, 540 - 24 * i, line)
    c.showPage()
    c.save()
    return path


def _create_user(admin, person: Person) -> None:
    """用户管理 → 新建用户, as an administrator does it."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect

    try:
        admin.goto("/admin/users")
    except PlaywrightError as exc:
        # The record page left behind reloads itself when its files are read (status.js); a reload
        # landing on the same instant aborts this navigation. Navigate again.
        if "ERR_ABORTED" not in str(exc):
            raise
        admin.goto("/admin/users")
    form = admin.locator("form").filter(has=admin.get_by_role("button", name="创建"))
    form.locator("input[name=username]").fill(person.username)
    form.locator("input[name=display_name]").fill(person.display_name)
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("select[name=role]").select_option(person.role)
    form.locator("input[name=department]").fill(person.department)
    form.locator("select[name=clearance]").select_option(person.clearance)
    form.get_by_role("button", name="创建").click()
    expect(admin.locator(".flash.success")).to_contain_text(f"已创建用户：{person.username}")
    expect(admin.locator("table.list tr", has_text=person.username)).to_contain_text(person.display_name)


def _assert_phone_usable(page, button, screenshot: Path) -> None:
    """The page fits the phone's width (no sideways scrolling) and ``button`` is on screen, tappable."""
    from playwright.sync_api import expect

    expect(button).to_be_visible()
    expect(button).to_be_in_viewport()
    widths = page.evaluate("() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})")
    assert widths["inner"] == PHONE["viewport"]["width"], widths
    assert widths["scroll"] <= widths["inner"], f"page scrolls sideways on a phone: {widths}"
    box = button.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= widths["inner"], box
    # WCAG 2.2 target size (minimum, AA): at least 24 × 24 CSS pixels.
    assert box["width"] >= 24 and box["height"] >= 24, f"approve button too small to tap: {box}"
    page.screenshot(path=str(screenshot), full_page=True)


def _approve_on_phone(page, person: Person, request_no: str, card_status: str, expected_flash: str,
                      screenshot: Path) -> None:
    """Sign in on a phone, open 待我审批, check the request's card and approve it."""
    from playwright.sync_api import expect

    log_in(page, person.username, PASSWORD)
    open_menu_entry(page, "借阅", "待我审批", tap=True)
    expect(page).to_have_url(re.compile(r"/loans/queue$"))
    card = page.locator("ol.hits > li").filter(has_text=request_no)
    expect(card).to_have_count(1)
    expect(card.locator(".loan-status")).to_have_text(card_status)
    for text in (STAFF.display_name, DEPARTMENT, "查阅", "核对购房合同", "密级 秘密"):
        expect(card).to_contain_text(text)
    approve = card.get_by_role("button", name="批准")
    _assert_phone_usable(page, approve, screenshot)
    approve.tap()
    expect(page).to_have_url(re.compile(r"/loans/queue$"))
    # One message, the decision said once (not "已批准 JY-…（已批准）").
    expect(page.locator(".flash.success")).to_have_text(expected_flash.format(request_no))
    expect(page.locator("ol.hits > li").filter(has_text=request_no)).to_have_count(0)
    widths = page_width(page)
    assert widths[0] <= widths[1], f"queue page scrolls sideways on a phone after approving: {widths}"


def _my_request_status(page, request_no: str):
    card = page.locator("ol.hits > li").filter(has_text=request_no)
    return card.locator(".loan-status")


def _stamped_moment(stored: bytes, served: bytes, request_no: str, t0: datetime, t1: datetime) -> datetime | None:
    """The second at which ``served`` is ``stored`` stamped for STAFF under ``request_no``, or None.

    The product's own marking (``watermark_lines`` + ``watermark_image``, deterministic for the
    same bytes and lines) is replayed for every second the request was in flight: a match proves
    the served page carries exactly the borrower's name, department, the time and the request number.
    """
    from archive_app.borrowing.watermark import watermark_image
    from archive_app.intake.records import watermark_lines

    department = SimpleNamespace(name=DEPARTMENT)
    borrower = SimpleNamespace(display_name=STAFF.display_name, username=STAFF.username, department=department)
    grant = SimpleNamespace(department=department, request_no=request_no)
    second = t0.replace(microsecond=0)
    while second <= t1:
        if watermark_image(stored, watermark_lines(borrower, grant, second, TIMEZONE)) == served:
            return second
        second += timedelta(seconds=1)
    return None


def _close_window(db_path: Path, request_no: str) -> None:
    """Move the loan's window end one second into the past, in the server's own database.

    This stands in for the clock reaching the window end: an approved 查阅 runs to the end of
    the local day, and the test cannot wait for midnight. The server checks ``window_end``
    against the real time on every page and image request, so this is exactly the state it would
    see at the end of the day. (The test owns this data dir; SQLite stores UTC text.)
    """
    past = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with closing(sqlite3.connect(db_path, timeout=10)) as conn:
        with conn:
            row = conn.execute("SELECT window_end FROM loan_requests WHERE request_no = ?", (request_no,)).fetchone()
            assert row is not None, f"{request_no} not in {db_path}"
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?", row[0]), \
                f"unexpected window_end storage {row[0]!r}: update this stand-in for the clock"
            assert past < row[0], f"window already over? {row[0]} (now {past})"
            conn.execute("UPDATE loan_requests SET window_end = ? WHERE request_no = ?", (past, request_no))


def test_request_two_approvals_watermarked_view_then_window_closes(
        archive_server: ArchiveServer, open_page, tmp_path: Path) -> None:
    from PIL import Image
    from playwright.sync_api import expect

    # --- The administrator files a 秘密 purchase contract and sets up the people.
    admin = open_page()
    log_in(admin, "admin", ADMIN_PASSWORD)
    open_menu_entry(admin, "档案", "新建档案")
    admin.locator("input[name=name]").fill("陈美华")
    admin.locator("input[name=phones]").fill("13912345678")
    admin.locator("select[name=business_type]").select_option("购房")
    admin.locator("input[name=department]").fill(DEPARTMENT)
    admin.get_by_role("button", name="保存").click()
    expect(admin).to_have_url(re.compile(r"/customers/\d+$"))
    customer_url = admin.url

    follow_link(admin, "上传档案", r"/customers/\d+/upload$")
    admin.locator("select[name=record_type]").select_option("购房合同")
    admin.locator("select[name=secrecy]").select_option("2")  # 秘密: the general manager must approve too
    admin.locator("input[type=file][name=files]").set_input_files(str(_contract_pdf(tmp_path / "contract.pdf")))
    admin.get_by_role("button", name="上传").click()
    expect(admin).to_have_url(re.compile(r"/records/\d+$"))
    record_url = admin.url
    archival_code = admin.locator("p.code").inner_text().strip()
    # While the worker renders the page: the consultant, their department head and the general manager.
    for person in (STAFF, HEAD, GM):
        _create_user(admin, person)
    admin.goto(record_url)
    # status.js reloads the record page when the worker has rendered the page.
    expect(admin.locator("#files .text-status")).to_have_class(re.compile(r"\bdone\b"),
                                                               timeout=EXTRACTION_TIMEOUT_MS)
    viewer_path = admin.locator(".thumbs a").first.get_attribute("href")
    match = re.fullmatch(r"/records/(\d+)/files/(\d+)/pages/1", viewer_path or "")
    assert match, f"unexpected page viewer link {viewer_path!r}"
    download_path = f"/records/{match.group(1)}/files/{match.group(2)}"
    admin.goto(viewer_path)
    image_path = admin.locator(".page-view img").get_attribute("src")
    stored = admin.request.get(image_path)  # archive staff see the stored page, unmarked
    assert stored.ok, stored.status
    stored_bytes = stored.body()

    # --- The consultant cannot read it yet, and asks for it: 申请查阅 (two clicks from the record).
    staff = open_page()
    log_in(staff, STAFF.username, PASSWORD)
    refused = staff.goto(viewer_path)
    assert refused is not None and refused.status == 403
    expect(staff.locator("h1")).to_have_text("没有已批准的借阅申请包含此档案")

    staff.goto(customer_url)
    staff.get_by_role("link", name=archival_code).click()
    expect(staff).to_have_url(record_url)
    expect(staff.locator("main")).to_contain_text("阅读页面或下载文件须先申请并获批准")
    expect(staff.locator(".thumbs")).to_have_count(0)
    staff.get_by_role("link", name="申请查阅").click()
    expect(staff.locator("h1")).to_have_text("申请查阅")
    expect(staff.locator("main")).to_contain_text(archival_code)
    staff.locator("select[name=kind]").select_option("view")
    staff.locator("textarea[name=purpose]").fill("客户办理按揭，核对购房合同条款")
    local_now = datetime.now(ZoneInfo(TIMEZONE))
    if local_now.time() >= time(23, 57):
        # The default window ends at local midnight; so close to it, ask until tomorrow instead
        # so the window cannot close by itself halfway through the test.
        staff.locator("details summary").click()
        staff.locator("input[name=window_end]").fill((local_now.date() + timedelta(days=1)).isoformat())
        staff.locator("textarea[name=reason]").fill("临近午夜，延至明天")
    staff.get_by_role("button", name="提交申请").click()
    expect(staff).to_have_url(re.compile(r"/loans$"))
    flash = staff.locator(".flash.success")
    expect(flash).to_contain_text("已提交借阅申请")
    found = REQUEST_NO.search(flash.inner_text())
    assert found, f"no request number in {flash.inner_text()!r}"
    request_no = found.group(0)
    expect(_my_request_status(staff, request_no)).to_have_text("待部门负责人审批")
    expect(staff.locator("ol.hits > li").filter(has_text=request_no)).to_contain_text("还须总经理审批")

    # --- The department head approves on a phone.
    head = open_page(**PHONE)
    _approve_on_phone(head, HEAD, request_no, "待部门负责人审批", "已同意 {}，转总经理审批", tmp_path / "head-queue.png")
    staff.reload()
    expect(_my_request_status(staff, request_no)).to_have_text("待总经理审批")

    # --- The general manager approves on a phone (密级 秘密).
    gm = open_page(**PHONE)
    _approve_on_phone(gm, GM, request_no, "待总经理审批", "已批准 {}", tmp_path / "gm-queue.png")
    staff.reload()
    expect(_my_request_status(staff, request_no)).to_have_text("已批准")

    # --- The consultant reads the page: from 我的申请 to the record to the page viewer.
    staff.locator("ol.hits > li").filter(has_text=request_no).get_by_role("link", name=archival_code).click()
    expect(staff).to_have_url(record_url)
    expect(staff.locator("#files")).to_contain_text("无下载权限")  # 查阅 is view-only
    staff.locator(".thumbs a").first.click()
    expect(staff).to_have_url(re.compile(re.escape(viewer_path) + "$"))
    expect(staff.locator("h1")).to_contain_text("第 1 / 1 页")
    expect(staff.locator("#grant-notice")).to_contain_text(request_no)
    expect(staff.locator(".page-view img")).to_be_visible()
    staff.wait_for_function("() => { const i = document.querySelector('.page-view img');"
                            " return i && i.complete && i.naturalWidth > 0; }")
    assert staff.locator(".page-view img").get_attribute("src") == image_path

    t0 = datetime.now(UTC)
    served = staff.request.get(image_path)
    t1 = datetime.now(UTC)
    assert served.status == 200, served.status
    assert served.headers["content-type"].startswith("image/jpeg")
    served_bytes = served.body()
    assert served_bytes != stored_bytes, "the borrower got the stored page image without a watermark"
    with Image.open(io.BytesIO(served_bytes)) as marked, Image.open(io.BytesIO(stored_bytes)) as plain:
        assert marked.size == plain.size
    stamped = _stamped_moment(stored_bytes, served_bytes, request_no, t0, t1)
    assert stamped is not None, (f"the page image is not the stored page stamped with {STAFF.display_name}, "
                                 f"{DEPARTMENT}, the time and {request_no}")

    download = staff.request.get(download_path)
    assert download.status == 403, download.status
    assert "只允许在线查阅" in download.text()

    # Every page view is in the audit log (in Chinese) under the request number.
    admin.goto("/audit")
    expect(admin.locator("table.list tbody tr").filter(has_text="查看页面图像").filter(has_text=request_no)
           .first).to_be_visible()

    # --- The window closes: the viewer and the image are refused, with the reason in Chinese.
    _close_window(archive_server.sqlite_path, request_no)
    closed = staff.reload()
    assert closed is not None and closed.status == 403, closed and closed.status
    expect(staff.locator("h1")).to_have_text("不在批准的借阅期限内")
    late_image = staff.request.get(image_path)
    assert late_image.status == 403, late_image.status
    assert "不在批准的借阅期限内" in late_image.text()
    staff.goto(record_url)
    expect(staff.locator("main")).to_contain_text("阅读页面或下载文件须先申请并获批准")
    expect(staff.locator(".thumbs")).to_have_count(0)
