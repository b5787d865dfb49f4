"""The content security policy in a real browser (Debian's Chromium against ``archive serve``).

Pages run with no violation reported and no script error; the policy is enforced (a script injected
into a page does not run); the behaviours moved out of inline handlers still work from static/app.js;
批量上传 (static/bulk_upload.js) sends dropped files one request each, with a progress bar per file;
the visitor-card form and the register import work under it, end to end.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

# The fixtures are imported so pytest finds them here (browser_support is not a conftest).
from tests.browser_support import ADMIN_PASSWORD, archive_server, browser, follow_link, live_server, log_in, new_context  # noqa: F401
from tests.generated import pdfs
from tests.generated.registers import CUSTOMER_HEADERS, to_csv
from tests.helpers import make_pdf

pytestmark = pytest.mark.browser
ARCHIVIST_PASSWORD = "Archivist-Pw-2026!"
PAGES = ["/", "/customers/new", "/search", "/loans/register", "/retention/schedule", "/retention/holds",
         "/disposal/batches", "/admin/users", "/audit", "/no-such-page"]


def _watch(page) -> list[str]:
    """What the page reports wrong from now on: security-policy violations and script errors."""
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return problems


def test_pages_run_under_the_policy_in_chromium(browser, live_server: str) -> None:
    from playwright.sync_api import expect

    context = new_context(browser, live_server)
    page = context.new_page()
    reported: list[str] = []
    errors: list[str] = []
    page.on("console", lambda msg: reported.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        log_in(page, "admin", ADMIN_PASSWORD)
        for path in PAGES:
            page.goto(path)
            expect(page.locator("header.top")).to_be_visible()
        assert reported == [] and errors == []

        # Enforced: a script written into the page (as an injection would be) is refused and reported.
        page.goto("/loans/register")
        page.evaluate("""() => { const s = document.createElement('script');
                                 s.textContent = 'window.injectedRan = true'; document.body.appendChild(s); }""")
        assert page.evaluate("() => window.injectedRan === undefined")
        page.wait_for_timeout(200)
        assert any("inline script" in text for text in reported), reported
        reported.clear()

        # 打印 (data-print) still prints: app.js calls window.print.
        page.evaluate("() => { window.print = () => { window.printed = true; }; }")
        page.get_by_role("button", name="打印").click()
        assert page.evaluate("() => window.printed === true")

        # 返回上一页 (data-back) goes back without a javascript: URL.
        page.goto("/customers/new")
        page.goto("/no-such-page")
        page.get_by_role("link", name="返回上一页").click()
        expect(page).to_have_url(re.compile(r"/customers/new$"))
        assert reported == [] and errors == []
    finally:
        context.close()


def test_a_visitor_card_is_entered_under_the_policy(browser, live_server: str) -> None:
    """The 温馨卡 form's own script (static/visits.js) adds visit-date fields; the card saves with them."""
    from playwright.sync_api import expect

    context = new_context(browser, live_server)
    page = context.new_page()
    problems = _watch(page)
    try:
        log_in(page, "admin", ADMIN_PASSWORD)
        page.goto("/customers/new")
        page.locator("input[name=name]").fill("卡片客户")
        page.locator("input[name=department]").fill("销售一部")
        page.get_by_role("button", name="保存").click()
        follow_link(page, "登记温馨卡", r"/customers/\d+/cards/new$")
        page.get_by_role("button", name="增加到访日期").click()
        dates = page.locator("input[name=visit_dates]")
        expect(dates).to_have_count(4)
        dates.nth(0).fill("2026-11-20")
        dates.nth(3).fill("2026-11-28")
        page.locator("input[name=unit_type][value=institution]").check()
        page.locator("input[name=channel][value=dm]").check()
        page.get_by_role("button", name="保存温馨卡").click()
        card = page.locator("#card-fields")
        expect(card).to_contain_text("事业单位")
        expect(card).to_contain_text("第2次 2026-11-28")
        assert problems == []
    finally:
        context.close()


def test_the_menus_fit_one_line_on_a_desktop_and_fold_behind_a_button_on_a_phone(browser, live_server: str) -> None:
    """The administrator sees every group; at 1366 px the header is one line and nothing overflows;
    on a 390 px phone the nav hides behind 「菜单」 and opens a page from there."""
    from playwright.sync_api import expect

    from tests.browser_support import PHONE, open_menu_entry

    desktop = new_context(browser, live_server, viewport={"width": 1366, "height": 900})
    phone = new_context(browser, live_server, **PHONE)
    try:
        page = desktop.new_page()
        log_in(page, "admin", ADMIN_PASSWORD)
        titles = page.locator("nav details.menu > summary").all_inner_texts()
        assert [t.strip() for t in titles] == ["档案", "借阅", "保管与销毁", "统计", "管理"]
        expect(page.locator("[data-menu-toggle]")).to_be_hidden()
        # One line: every menu title sits at the same height, and the page is not wider than the screen.
        tops = page.evaluate("() => [...document.querySelectorAll('nav > a, nav summary')]"
                             ".map(e => Math.round(e.getBoundingClientRect().top))")
        assert len(set(tops)) == 1, tops
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        open_menu_entry(page, "管理", "审计日志")
        expect(page).to_have_url(re.compile(r"/audit$"))

        small = phone.new_page()
        log_in(small, "admin", ADMIN_PASSWORD)
        expect(small.locator("nav#main-nav")).to_be_hidden()
        assert small.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        open_menu_entry(small, "保管与销毁", "销毁清册", tap=True)
        expect(small).to_have_url(re.compile(r"/disposal/register$"))
    finally:
        desktop.close()
        phone.close()


def _new_customer(page, name: str) -> str:
    page.goto("/customers/new")
    page.locator("input[name=name]").fill(name)
    page.locator("input[name=department]").fill("销售一部")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(re.compile(r"/customers/\d+$"))
    return f"C{int(page.url.rsplit('/', 1)[1]):06d}"


def test_three_files_dropped_are_filed_each_with_its_progress_bar(browser, live_server: str) -> None:
    from playwright.sync_api import expect

    context = new_context(browser, live_server)
    page = context.new_page()
    problems = _watch(page)
    try:
        log_in(page, "admin", ADMIN_PASSWORD)
        first, second = _new_customer(page, "批量甲"), _new_customer(page, "批量乙")
        page.goto("/intake/bulk")
        files = [
            {"name": f"{first}_购房合同_20240315.pdf", "mimeType": "application/pdf",
             "buffer": make_pdf(marker="bulk-1")},
            {"name": f"{second}_SJ_20240316_定金.pdf", "mimeType": "application/pdf",
             "buffer": make_pdf(marker="bulk-2")},
            {"name": "扫描件.pdf", "mimeType": "application/pdf", "buffer": make_pdf(marker="bulk-3")},
        ]
        page.locator("#bulk-files").set_input_files(files)
        rows = page.locator("#bulk-rows tr")
        expect(rows).to_have_count(3)
        # read from the names; the third, named otherwise, is filled in by hand
        expect(rows.nth(0).locator(".bulk-customer")).to_have_value(first)
        expect(rows.nth(1).locator(".bulk-type")).to_have_value("收据")
        expect(rows.nth(1).locator(".bulk-date")).to_have_value("2024-03-16")
        rows.nth(2).locator(".bulk-customer").fill(second)
        rows.nth(2).locator(".bulk-type").select_option("发票")

        page.get_by_role("button", name="全部上传").click()
        expect(page.locator("#bulk-rows .bulk-result a")).to_have_count(3)
        codes = page.locator("#bulk-rows .bulk-result a").all_inner_texts()
        assert re.fullmatch(rf"0001-2024-D30-{first}-3-0001", codes[0]), codes
        # two requests run side by side: either of the second customer's records may be numbered first
        assert re.fullmatch(rf"0001-2024-D30-{second}-2-000[12]", codes[1]), codes
        assert re.fullmatch(rf"0001-\d{{4}}-D30-{second}-2-000[12]", codes[2]), codes
        assert codes[1][-4:] != codes[2][-4:]
        assert page.locator("#bulk-rows progress").evaluate_all("bars => bars.map(b => b.value)") == [100] * 3
        expect(page.locator("#bulk-rows .bulk-percent").first).to_have_text("100%")
        expect(page.locator("#bulk-summary")).to_have_text("已上传 3 个")
        # On a phone the rows scroll inside their own box; the page itself does not widen.
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("() => document.querySelector('main').scrollWidth <= window.innerWidth")
        assert problems == []
    finally:
        context.close()


def _register() -> bytes:
    """A 客户登记表 of two good rows and one whose phone is no phone."""
    blank = [""] * (len(CUSTOMER_HEADERS) - 5)
    rows = [CUSTOMER_HEADERS,
            [1, "孙浏览", "男", "13911112222", "", *blank],
            [2, "周导入", "女", "13933334444", "", *blank],
            [3, "吴错号", "女", "139-ABC", "", *blank]]
    return to_csv(rows)


def _create_archivist(page) -> None:
    """The administrator made by `archive init` opens an archivist's account on the users page."""
    from playwright.sync_api import expect

    log_in(page, "admin", ADMIN_PASSWORD)
    page.goto("/admin/users")
    form = page.locator("form").filter(has=page.get_by_role("button", name="创建"))
    form.locator("input[name=username]").fill("archivist1")
    form.locator("input[name=display_name]").fill("档案员甲")
    form.locator("input[name=password]").fill(ARCHIVIST_PASSWORD)
    form.locator("select[name=role]").select_option("archivist")
    form.locator("input[name=department]").fill("档案室")
    form.get_by_role("button", name="创建").click()
    expect(page.locator(".flash.success")).to_contain_text("已创建用户：archivist1")
    page.get_by_role("button", name="退出").click()


def test_an_archivist_imports_a_register_and_enters_a_card_beside_its_scan(browser, live_server: str,
                                                                          tmp_path: Path) -> None:
    """An archivist brings a small register made here into the archive on /registers/import (the check
    lists its rows before anything is written, then the import), files a 温馨卡 scan under an imported
    customer, opens that record and enters the card on the form beside its scan; the card page shows
    what was saved. No page reports a policy violation or a script error on the way."""
    from playwright.sync_api import expect

    register = tmp_path / "客户登记表.csv"
    register.write_bytes(_register())
    scan = tmp_path / "温馨卡.pdf"
    scan.write_bytes(pdfs.text_pdf(marker="温馨卡 孙浏览"))

    context = new_context(browser, live_server)
    page = context.new_page()
    problems = _watch(page)
    try:
        _create_archivist(page)
        log_in(page, "archivist1", ARCHIVIST_PASSWORD)
        page.goto("/registers/import")
        page.locator("input[type=file][name=file]").set_input_files(str(register))
        page.get_by_role("button", name="上传并检查").click()
        # the dry run: every row listed with its result, nothing written yet
        expect(page.locator("#register-summary")).to_contain_text("2 rows ready, 1 rows with errors, 0 duplicates")
        rows = page.locator("#register-rows")
        expect(rows.locator("tr", has_text="孙浏览")).to_contain_text("可导入")
        expect(rows.locator("tr", has_text="吴错号")).to_contain_text("错误")
        expect(page.locator("#register-problems")).to_contain_text("电话号码格式不正确：139-ABC")
        page.get_by_role("checkbox", name=re.compile("跳过有错误的行")).check()
        page.get_by_role("button", name="导入 2 行").click()
        expect(page.locator("#report-created")).to_contain_text("2 户客户")

        # the imported customer; the archivist handles every customer, so the phone is whole
        page.goto("/?q=孙浏览")
        page.get_by_role("link", name="孙浏览").click()
        expect(page.locator("section.facts")).to_contain_text("13911112222")
        follow_link(page, "上传档案", r"/customers/\d+/upload$")
        page.locator("select[name=record_type]").select_option("温馨卡")
        page.locator("input[type=file][name=files]").set_input_files(str(scan))
        page.get_by_role("button", name="上传").click()
        expect(page).to_have_url(re.compile(r"/records/\d+$"))

        # the background worker renders the scan's page; the record page polls and reloads itself when
        # its files are read (status.js), so wait for that rather than navigate over its reload
        expect(page.locator("a[href*='/pages/'] img, img[src*='/pages/']").first).to_be_visible(timeout=30_000)
        page.get_by_role("link", name="对照此扫描件登记温馨卡").click()
        expect(page.locator("#card-scan img")).to_have_count(1)
        expect(page.locator("#card-customer")).to_contain_text("13911112222")
        form = page.locator("#card-form")
        form.locator("input[name=unit_type][value=institution]").check()
        form.locator("input[name=channel][value=dm]").check()
        form.locator("input[name=visit_dates]").first.fill("2026-11-20")
        form.locator("select[name=grade]").select_option("B")
        form.locator("textarea[name=notes]").fill("戴眼镜，关注学区")
        form.get_by_role("button", name="保存温馨卡").click()

        card = page.locator("#card-fields")
        expect(card).to_contain_text("事业单位")
        expect(card).to_contain_text("DM")
        expect(card).to_contain_text("第1次 2026-11-20")
        expect(card).to_contain_text("戴眼镜，关注学区")
        expect(card).to_contain_text("13911112222")
        expect(card.locator("div", has_text="客户等级")).to_contain_text("B")
        expect(card.locator("div", has_text="扫描件")).to_contain_text("-1-")
        assert problems == []
    finally:
        context.close()


POLYGLOT_PASSWORD = "Three-Tongues-2026!"
# Per language: <html lang>, the desk's heading, a menu group, its entry, and that page's heading.
LANGUAGE_VIEWS = {
    "en": ("en", "Desk", "Records", "Customer records"),
    "zh_Hant": ("zh-Hant", "工作台", "檔案", "客戶檔案"),
    "zh_Hans": ("zh-CN", "工作台", "档案", "客户档案"),
}


def test_a_user_switches_between_the_three_languages(browser, archive_server) -> None:
    """An administrator (every menu: the widest header) chooses each language on 我的账号 and reads the
    desk and a page opened from the menu in it; in English (the longest labels) the header stays one
    line at 1366 px and no page is wider than the screen. The log-in page's own chooser works before
    anyone signs in."""
    from playwright.sync_api import expect

    from tests.browser_support import open_menu_entry

    archive_server.cli("create-user", "polyglot", "--role", "admin", "--password", POLYGLOT_PASSWORD,
                       "--display-name", "林多语")
    context = new_context(browser, archive_server.url, viewport={"width": 1366, "height": 900})
    try:
        page = context.new_page()
        problems = _watch(page)
        page.goto("/login")
        page.get_by_role("button", name="English").click()
        expect(page.locator("h1")).to_have_text("Sign in")
        page.locator("input[name=username]").fill("polyglot")
        page.locator("input[name=password]").fill(POLYGLOT_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        # the account has no choice yet: the cookie's English holds until the user chooses
        expect(page.locator("h1")).to_contain_text("Desk")
        for code, (lang, desk, group, entry) in LANGUAGE_VIEWS.items():
            page.goto("/account")
            page.locator("#language select[name=language]").select_option(code)
            page.locator("#language button[type=submit]").click()
            expect(page.locator("html")).to_have_attribute("lang", lang)
            page.goto("/dashboard")
            expect(page.locator("h1")).to_contain_text(desk)
            open_menu_entry(page, group, entry)
            expect(page).to_have_url(re.compile(r"/$"))  # 客户档案 is the home page
            expect(page.locator("h1")).to_contain_text(entry)
            # the scripts' texts come with the page (app.js's archiveText; 简体中文 pages carry none);
            # app.js is deferred, so the heading can be on screen before the function exists
            page.wait_for_function("() => typeof window.archiveText === 'function'")
            written = page.evaluate("() => window.archiveText('已上传 %(ok)s 个', {ok: 3})")
            assert written == {"en": "3 uploaded", "zh_Hant": "已上傳 3 個", "zh_Hans": "已上传 3 个"}[code]
            if code == "en":
                tops = page.evaluate("() => [...document.querySelectorAll('nav > a, nav summary')]"
                                     ".map(e => Math.round(e.getBoundingClientRect().top))")
                assert len(set(tops)) == 1, tops
                for path in PAGES:
                    page.goto(path)
                    wide = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
                    assert wide <= 0, (path, wide)
        assert problems == []
    finally:
        context.close()
