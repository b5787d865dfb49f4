"""Three languages for the pages: choosing one, the catalogues, and the check that no template text
escapes them.

The static check reads every template: Han text outside ``_('…')`` is a failure, and every msgid the
templates use must have a non-empty, non-fuzzy translation in the zh_Hant and en catalogues.
"""
from __future__ import annotations

import os
import re
import sys
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
        assert entry.object_id == str(users["staff"]) and '"to":"en"' in entry.details
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


def test_every_page_without_arguments_draws_in_every_language(app, users, client, auth) -> None:
    """The administrator (every page) opens each page that needs no id in each language: none fails, each
    says its language; a translation that broke a page (a bad placeholder, a stray %) shows here."""
    auth.login("admin")
    paths = sorted({rule.rule for rule in app.url_map.iter_rules()
                    if "GET" in rule.methods and not rule.arguments and not rule.rule.startswith("/api/")
                    and rule.endpoint not in ("static", "favicon") and not rule.rule.endswith((".xlsx", ".csv", ".pdf"))})
    assert len(paths) > 25
    for code, lang in i18n.HTML_LANG.items():
        client.set_cookie("lang", code)
        for path in paths:
            answer = client.get(path)
            assert answer.status_code < 500, (code, path)
            if answer.status_code == 200 and answer.mimetype == "text/html":
                assert f'<html lang="{lang}">' in answer.get_data(as_text=True), (code, path)


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


# ---------------------------------------------------------------------------------------------- the static check

REPO = Path(__file__).resolve().parents[1]
TEMPLATES = REPO / "templates"
CATALOGUES = REPO / "archive_app" / "translations"
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
TRANSLATED_CALL = re.compile(r"""\b_\(\s*(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""", re.S)
JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.S)
# Chinese in a template that is DATA compared against stored values, never shown: each one named here.
DATA_LITERALS = {
    "records/show.html": ["'温馨卡'"],  # the record type whose scan can become a visitor card (record_type's value)
}


def _blank(match: re.Match) -> str:
    return re.sub(r"[^\n]", " ", match.group())


def _untranslated(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    text = TRANSLATED_CALL.sub(_blank, JINJA_COMMENT.sub(_blank, source))
    for literal in DATA_LITERALS.get(path.relative_to(TEMPLATES).as_posix(), []):
        text = text.replace(literal, " " * len(literal))
    lines = source.split("\n")
    return [f"{path.relative_to(REPO)}:{n}: {lines[n - 1].strip()[:120]}"
            for n, line in enumerate(text.split("\n"), 1) if HAN.search(line)]


def test_every_chinese_text_of_the_templates_is_translatable() -> None:
    found = [line for path in sorted(TEMPLATES.rglob("*.html")) for line in _untranslated(path)]
    assert not found, "Chinese outside _('…') (wrap it, see README \"Languages\"):\n" + "\n".join(found)


def test_the_check_sees_an_untranslated_text(tmp_path, monkeypatch) -> None:
    page = tmp_path / "t.html"
    page.write_text("<p>{{ _('已翻译') }}</p>{# 注释 #}\n<p title=\"{{ _(\"提示\") }}\">漏掉的</p>", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "TEMPLATES", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    assert _untranslated(page) == ['t.html:2: <p title="{{ _("提示") }}">漏掉的</p>']


def _template_msgids() -> set[str]:
    from babel.messages.extract import extract_from_file

    msgids = set()
    for path in TEMPLATES.rglob("*.html"):
        for _line, message, _comments, _context in extract_from_file("jinja2.ext:babel_extract", str(path)):
            msgids.add(message[0] if isinstance(message, tuple) else message)
    return msgids


def _catalogue(lang: str) -> dict[str, tuple[str, bool]]:
    from babel.messages.pofile import read_po

    merged = {}
    for po in sorted((CATALOGUES / lang / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as handle:
            for message in read_po(handle, locale=lang):
                if message.id:
                    merged[message.id] = (message.string, message.fuzzy)
    return merged


def test_every_template_msgid_is_translated_in_both_catalogues() -> None:
    msgids = _template_msgids()
    assert len(msgids) > 700  # the extraction really read the templates
    placeholder = re.compile(r"%\(\w+\)s")
    for lang in ("zh_Hant", "en"):
        catalogue = _catalogue(lang)
        missing = sorted(m for m in msgids if not catalogue.get(m, ("", False))[0] or catalogue[m][1])
        assert not missing, f"{lang}: no translation (run scripts/i18n_pages.py, then translate):\n" + "\n".join(missing)
        # a translation keeps every placeholder, or the page raises or loses a value
        wrong = [m for m in msgids if set(placeholder.findall(m)) != set(placeholder.findall(catalogue[m][0]))]
        assert not wrong, f"{lang}: placeholders differ:\n" + "\n".join(wrong)
        # and formats as the page formats it (a lone % raises there)
        for msgid in msgids:
            translation = catalogue[msgid][0]
            translation % {name[2:-2]: "x" for name in placeholder.findall(translation)}


# The scripts write their texts through window.archiveText("…"), whose msgids archive_app/i18n.py lists;
# status.js keeps its status labels in a map it passes through archiveText when it writes them.
SCRIPT_CALL = re.compile(r"""archiveText\(\s*"((?:[^"\\]|\\.)*)\"""")
SCRIPT_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
SCRIPT_DATA = {"status.js": re.compile(r"var labels = \{[^}]*\};")}


def test_the_scripts_texts_are_translatable() -> None:
    listed = {text._args[0] for text in i18n.JS_TEXTS}
    catalogues = {lang: _catalogue(lang) for lang in ("zh_Hant", "en")}
    for script in sorted((REPO / "archive_app" / "static").glob("*.js")):
        source = SCRIPT_COMMENT.sub("", script.read_text(encoding="utf-8"))
        data = SCRIPT_DATA.get(script.name)
        labels = re.findall(r'"([^"]*)"', data.search(source).group()) if data else []
        for msgid in SCRIPT_CALL.findall(source) + [label for label in labels if HAN.search(label)]:
            assert msgid in listed, f"{script.name}: {msgid!r} is not in i18n.JS_TEXTS"
        rest = SCRIPT_CALL.sub("", data.sub("", source) if data else source)
        assert not HAN.search(rest), f"{script.name} writes Chinese outside archiveText: {HAN.findall(rest)[:5]}"
    for msgid in listed:
        for lang, catalogue in catalogues.items():
            assert catalogue.get(msgid, ("", False))[0], f"{lang}: {msgid!r} has no translation"
