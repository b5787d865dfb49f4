"""In headless Chromium against a real ``archive serve``: an administrator deactivates a user while that
user's browser is open, and the user's next click lands on the login page.

Two browser contexts (two sets of cookies) in one browser: the administrator and the clerk. The
server and browser fixtures live in ``tests/browser_support.py``.
"""
from __future__ import annotations

import re
import time

import pytest

# The fixtures are imported so pytest finds them here (browser_support is not a conftest).
from tests.browser_support import ADMIN_PASSWORD, archive_server, browser, live_server, log_in, new_context  # noqa: F401

pytestmark = pytest.mark.browser
PASSWORD = "Harbor-Lights-58-Quay"


def _create_user(admin, username: str) -> None:
    admin.goto("/admin/users")
    form = admin.locator("form").filter(has=admin.get_by_role("button", name="创建"))
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=display_name]").fill(username)
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("select[name=role]").select_option("staff")
    form.locator("input[name=department]").fill("销售一部")
    form.get_by_role("button", name="创建").click()


def test_deactivated_users_next_click_lands_on_the_login_page(browser, live_server: str) -> None:
    from playwright.sync_api import expect

    started = time.monotonic()
    admin_context, clerk_context = new_context(browser, live_server), new_context(browser, live_server)
    try:
        admin, clerk = admin_context.new_page(), clerk_context.new_page()
        log_in(admin, "admin", ADMIN_PASSWORD)
        for username in ("clerk", "deputy"):
            _create_user(admin, username)
            expect(admin.get_by_role("alert")).to_contain_text(f"已创建用户：{username}")

        log_in(clerk, "clerk", PASSWORD)

        # 用户管理 → the clerk's row → 管理 → 停用账号, handing over to the deputy.
        admin.get_by_role("row").filter(has_text="clerk").get_by_role("link", name="管理").click()
        expect(admin).to_have_url(re.compile(r"/admin/users/\d+$"))
        form = admin.locator("#deactivate-form")
        form.locator("select[name=successor_id]").select_option(label="deputy（deputy，业务人员，销售一部）")
        form.locator("input[name=note]").fill("离职交接")
        form.get_by_role("button", name="停用账号").click()
        expect(admin.get_by_role("alert")).to_contain_text("已停用 clerk")
        expect(admin.locator(".user-status")).to_have_text("停用")

        # The clerk's page is still open from before; its next click is refused.
        clerk.get_by_role("link", name="检索").click()
        expect(clerk).to_have_url(re.compile(r"/login\b"))
        expect(clerk.locator("h1")).to_have_text("登录")
        # Signing in again is refused too.
        clerk.locator("input[name=username]").fill("clerk")
        clerk.locator("input[name=password]").fill(PASSWORD)
        clerk.get_by_role("button", name="登录").click()
        expect(clerk.get_by_role("alert")).to_contain_text("用户名或密码错误")
    finally:
        admin_context.close()
        clerk_context.close()
    assert time.monotonic() - started < 40
