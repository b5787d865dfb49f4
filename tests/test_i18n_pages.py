"""Three languages for the pages: choosing one, the catalogues, and the check that no template text
escapes them.

The static check reads every template: Han text outside ``_('…')`` is a failure, and every msgid the
templates use must have a non-empty, non-fuzzy translation in the zh_Hant and en catalogues.
"""
from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime
from pathlib import Path

from babel.messages.mofile import read_mo
from sqlalchemy import select

from archive_app import i18n
from archive_app.accounts.models import User
from archive_app.audit.models import AuditEntry
from archive_app.extensions import db

from .conftest import csrf_from

# ---------------------------------------------------------------------------------------------- choosing


def test_the_language_is_the_users_then_the_cookies_then_simplified_chinese() -> None:
    assert i18n.chosen_locale(None, None) == "zh_Hans"
    assert i18n.chosen_locale(None, "en") == "en"
    assert i18n.chosen_locale("zh_Hant", "en") == "zh_Hant"
    # anything unknown falls through: a forged cookie or a language since removed
    assert i18n.chosen_locale("fr", "xx") == "zh_Hans"


def test_a_user_chooses_a_language_on_the_account_page_audited(app, users, client, auth) -> None:
    auth.login("staff")
    page = client.get("/account").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "界面语言" in page and 'value="zh_Hans" lang="zh-Hans" selected' in page
    answer = client.post("/account/language", data={"language": "en", "csrf_token": csrf_from(page)})
    assert answer.status_code == 302 and "lang=en" in answer.headers["Set-Cookie"]
    client.delete_cookie("lang")  # the account's choice holds without the cookie
    page = client.get("/account").get_data(as_text=True)
    assert '<html lang="en">' in page and "Interface language" in page and "Language changed" in page
    with app.app_context():
        assert db.session.get(User, users["staff"]).locale == "en"
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "user.language")).one()
        assert entry.object_id == str(users["staff"]) and '"to": "en"' in entry.details
    # an unknown language is refused and changes nothing
    client.post("/account/language", data={"language": "klingon", "csrf_token": csrf_from(page)})
    with app.app_context():
        assert db.session.get(User, users["staff"]).locale == "en"
    client.post("/account/language", data={"language": "zh_Hant", "csrf_token": csrf_from(page)})
    page = client.get("/account").get_data(as_text=True)
    assert '<html lang="zh-Hant">' in page and "介面語言" in page


def test_the_log_in_page_chooser_sets_a_cookie(app, client) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert "<h1>登录</h1>" in page and 'lang="en"' in page and ">English</button>" in page
    answer = client.post("/login/language", data={"language": "en", "csrf_token": csrf_from(page)})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/login")
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in page and "<h1>Sign in</h1>" in page
    client.post("/login/language", data={"language": "nonsense", "csrf_token": csrf_from(page)})
    assert "<h1>Sign in</h1>" in client.get("/login").get_data(as_text=True)


# ---------------------------------------------------------------------------------------------- dates and numbers


def test_dates_and_numbers_per_language(app) -> None:
    moment = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)  # 13:06 in Asia/Shanghai
    app.config["TIMEZONE"] = "Asia/Shanghai"
    seen = {}
    for code in i18n.LANGUAGES:
        with app.test_request_context(headers={"Cookie": f"lang={code}"}):
            seen[code] = (i18n.format_datetime(moment), i18n.format_date(date(2026, 3, 4)), i18n.format_number(12345))
    assert seen["zh_Hans"] == ("2026-03-04 13:06", "2026-03-04", "12345")  # today's forms, unchanged
    assert seen["en"] == ("3/4/2026, 13:06", "3/4/2026", "12,345")
    assert seen["zh_Hant"][0].startswith("2026/3/4") and seen["zh_Hant"][2] == "12,345"


# ---------------------------------------------------------------------------------------------- catalogues


def _po(path: Path, pairs: dict[str, str]) -> None:
    body = ['msgid ""', 'msgstr ""', '"Content-Type: text/plain; charset=UTF-8\\n"', ""]
    for msgid, msgstr in pairs.items():
        body += [f'msgid "{msgid}"', f'msgstr "{msgstr}"', ""]
    path.write_text("\n".join(body), encoding="utf-8")


def test_catalogues_merge_every_po_of_a_language_and_recompile_only_when_stale(tmp_path) -> None:
    source, target = tmp_path / "src", tmp_path / "out"
    folder = source / "en" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    _po(folder / "pages.po", {"档案": "Records", "借阅": ""})
    _po(folder / "code.po", {"保存": "Save"})
    i18n.compile_catalogues(source, target)
    mo = target / "en" / "LC_MESSAGES" / "messages.mo"
    with mo.open("rb") as handle:
        catalogue = read_mo(handle)
    assert {m.id: m.string for m in catalogue if m.id} == {"档案": "Records", "保存": "Save"}  # empty ones left out
    written = mo.stat().st_mtime_ns
    i18n.compile_catalogues(source, target)
    assert mo.stat().st_mtime_ns == written  # nothing changed: not rewritten
    time.sleep(0.01)
    _po(folder / "code.po", {"保存": "Save it"})
    os.utime(folder / "code.po")
    i18n.compile_catalogues(source, target)
    with mo.open("rb") as handle:
        assert {m.id: m.string for m in read_mo(handle) if m.id}["保存"] == "Save it"
