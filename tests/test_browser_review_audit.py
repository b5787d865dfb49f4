"""The audit log and the review queue in Chromium against ``archive serve``, on a 1366×900 desktop and a
390×844 phone: no horizontal overflow (the page is never wider than the window), the texts people need
(the true count, Chinese action names) visible; a 500-character search answered in Chinese through gunicorn.
"""
from __future__ import annotations

import pytest

# The fixtures are imported so pytest finds them here (browser_support is not a conftest).
from tests.browser_support import ADMIN_PASSWORD, PHONE, archive_server, browser, log_in, new_context, page_width  # noqa: F401
from tests.generated import pdfs

pytestmark = pytest.mark.browser
CLERK_PASSWORD = "Scanner-Desk-Pw-2024!"
DESKTOP = {"viewport": {"width": 1366, "height": 900}}
# A title and a reason long enough to widen a table that does not wrap.
LONG_TITLE = "购房合同（" + "碧桂园凤凰城二期十八栋二单元" * 8 + "）"


def _drafts_by_a_clerk(archive_server, browser, n: int) -> None:
    """``n`` drafts with long titles, uploaded through the API by an archivist (not the admin who reviews)."""
    archive_server.cli("create-user", "clerk", "--role", "archivist", "--password", CLERK_PASSWORD,
                       "--display-name", "录入员王芳", "--department", "档案室")
    token = archive_server.cli("create-token", "clerk").strip().splitlines()[-1]
    context = new_context(browser, archive_server.url)
    try:
        auth = {"Authorization": f"Bearer {token}"}
        customer = context.request.post("/api/v1/customers", headers=auth, data={
            "name": "欧阳" + "长名字" * 10, "phones": "13912345678", "business_type": "购房", "department": "销售一部"})
        assert customer.status == 201, customer.text()
        cid = customer.json()["id"]
        for i in range(n):
            made = context.request.post(f"/api/v1/customers/{cid}/records", headers=auth, multipart={
                "record_type": "购房合同", "title": f"{LONG_TITLE}{i}", "secrecy": "1",
                "files": {"name": f"scan-{i}.pdf", "mimeType": "application/pdf",
                          "buffer": pdfs.text_pdf(marker=f"draft {i}")}})
            assert made.status == 201, made.text()
    finally:
        context.close()


def _fits(page) -> None:
    wide = page_width(page)
    assert wide[0] <= wide[1], f"{page.url} is {wide[0]} px wide in a {wide[1]} px window"


def test_audit_log_and_review_queue_fit_a_desktop_and_a_phone(archive_server, browser, tmp_path) -> None:
    from playwright.sync_api import expect

    _drafts_by_a_clerk(archive_server, browser, 3)
    for name, options in (("desktop", DESKTOP), ("phone", PHONE)):
        context = new_context(browser, archive_server.url, **options)
        page = context.new_page()
        try:
            log_in(page, "admin", ADMIN_PASSWORD)
            page.goto("/review")
            expect(page.locator("#queue-total")).to_have_text("共 3 件")
            expect(page.get_by_role("button", name="审核归档所选档案")).to_be_visible()
            _fits(page)
            page.screenshot(path=str(tmp_path / f"review-{name}.png"))

            page.goto("/audit")
            expect(page.locator("table.audit-log")).to_contain_text("上传文件")
            expect(page.locator("table.audit-log")).to_contain_text("录入员王芳")
            _fits(page)
            page.screenshot(path=str(tmp_path / f"audit-{name}.png"))
            # A long filter value: the looks at the log quote it in their details, which must wrap.
            page.goto("/audit?action=audit&target=" + "C" * 60)
            expect(page.locator("#audit-filters input[name=target]")).to_have_value("C" * 60)
            _fits(page)
        finally:
            context.close()

    # Through gunicorn: a 500-character search is answered by the app, in Chinese.
    context = new_context(browser, archive_server.url, **DESKTOP)
    page = context.new_page()
    try:
        log_in(page, "admin", ADMIN_PASSWORD)
        page.goto("/search?q=" + "碧" * 500)
        expect(page.locator(".flash")).to_contain_text("检索词过长")
    finally:
        context.close()
