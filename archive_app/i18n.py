"""Three languages: 简体中文 (the source language and the default), 繁體中文 and English.

The msgids are the Simplified Chinese texts themselves, so a page in zh_Hans is exactly the text that
is written in the templates and the code; the other two languages come from catalogues:

* sources: ``archive_app/translations/<lang>/LC_MESSAGES/*.po`` (``pages.po`` for the templates and
  this module's views, ``code.po`` for the Python modules), committed;
* runtime: one ``messages.mo`` per language, compiled by MERGING every ``*.po`` of that language's
  folder (:func:`compile_catalogues`) when the app starts and a source is newer than it (a few
  milliseconds when nothing changed: one ``stat`` per file).

Who sees which language (:func:`select_locale`): the signed-in user's choice (``users.locale``,
NULL = the default), else the ``lang`` cookie the log-in page's chooser sets, else zh_Hans. The
browser's Accept-Language is deliberately not followed: the archive is a Chinese office's system,
every account starts in Simplified Chinese and a person switches on purpose.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_skeleton, format_time, get_datetime_format
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from flask import Flask, current_app, has_request_context, request
from flask_babel import Babel, get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import SQLAlchemyError

# Each language named in itself (what a person looking for their language recognises): data, not UI text.
LANGUAGES: dict[str, str] = {"zh_Hans": "简体中文", "zh_Hant": "繁體中文", "en": "English"}
DEFAULT_LOCALE = "zh_Hans"
# <html lang>: what browsers, screen readers and fonts expect (zh-CN keeps today's pages as they are).
HTML_LANG = {"zh_Hans": "zh-CN", "zh_Hant": "zh-Hant", "en": "en"}
LANG_COOKIE = "lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600
SOURCE_DIR = Path(__file__).resolve().parent / "translations"
DOMAIN = "messages"
# _, _l and ngettext are imported above for the code to import from here: ``from archive_app.i18n import _``.


# The texts static/*.js write (window.archiveText): Simplified Chinese, as in the scripts, with the same
# %(name)s placeholders. Pages in another language carry their translations in <body data-texts>.
JS_TEXTS = (
    _l("客户号：%(name)s"), _l("档案类型：%(name)s"), _l("文件日期：%(name)s"), _l("共 %(n)s 个文件"),
    _l("上传失败（HTTP %(status)s）"), _l("%(message)s：%(codes)s"), _l("上传中…"), _l("网络错误，上传未完成，请重试"),
    _l("已上传 %(ok)s 个"), _l("已上传 %(ok)s 个，失败 %(failed)s 个（可修改后再次上传）"), _l("已上传 %(pct)s%%"),
    _l("上传完成：%(code)s"), _l("排队"), _l("处理中"), _l("完成"), _l("失败"), _l("%(v)s：%(r)s"), _l("第%(index)s次"),
    _l("、"), _l("；"),
)


def js_texts() -> dict[str, str]:
    """The scripts' texts in the request's language: msgid -> translation."""
    return {text._args[0]: str(text) for text in JS_TEXTS}


def init_app(app: Flask) -> None:
    """Compile the catalogues if stale, then give the app Flask-Babel, its locale and the template helpers."""
    target = compile_catalogues(SOURCE_DIR, _build_dir(app))
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(target)
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT_LOCALE
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config.get("TIMEZONE", "UTC")
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, current_language=current_language, html_lang=html_lang,
                                 js_texts=js_texts)
    app.jinja_env.filters.update(format_datetime=format_datetime, format_date=format_date,
                                 format_number=format_number)


# ---------------------------------------------------------------------------------------------- which language


def chosen_locale(user_locale: str | None, cookie: str | None) -> str:
    """The language for a person: their account's choice, else the log-in page's cookie, else the default."""
    for candidate in (user_locale, cookie):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LOCALE


def select_locale() -> str:
    """Flask-Babel's locale selector: :func:`chosen_locale` for the request's user and cookie; outside a
    request (the worker, the command line) the default."""
    from flask_login import current_user

    if not has_request_context():
        return DEFAULT_LOCALE
    try:
        user_locale = getattr(current_user, "locale", None) if current_user.is_authenticated else None
    except SQLAlchemyError:
        # the page that says the database cannot be reached: no user to ask, the cookie still counts
        user_locale = None
    return chosen_locale(user_locale, request.cookies.get(LANG_COOKIE))


def current_language() -> str:
    """The request's language code (one of LANGUAGES); the default outside a request."""
    if not has_request_context():
        return DEFAULT_LOCALE
    locale = get_locale()
    if locale is None:
        return DEFAULT_LOCALE
    code = str(locale)
    return code if code in LANGUAGES else DEFAULT_LOCALE


def html_lang() -> str:
    """The ``<html lang>`` value of the request's language."""
    return HTML_LANG[current_language()]


def remember_language(response: Any, code: str) -> Any:
    """Set the ``lang`` cookie on ``response`` (the log-in page shows itself in it next time)."""
    response.set_cookie(LANG_COOKIE, code, max_age=LANG_COOKIE_MAX_AGE, httponly=True, samesite="Lax",
                        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
    return response


# ---------------------------------------------------------------------------------------------- dates and numbers
# zh_Hans keeps the archive's own numeric forms (2026-12-02 14:41, 12345): every page and test reads them so.
# The other languages use the CLDR forms of their locale.


def _local(value: datetime) -> datetime:
    zone = ZoneInfo(current_app.config.get("TIMEZONE", "UTC"))
    return value.astimezone(zone).replace(tzinfo=None) if value.tzinfo else value


def format_datetime(value: datetime | None, seconds: bool = False) -> str:
    """A timestamp in ARCHIVE_TIMEZONE, written the request language's way (empty for None)."""
    if value is None:
        return ""
    local = _local(value)
    code = current_language()
    if code == DEFAULT_LOCALE:
        return local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    locale = Locale.parse(code)
    # the locale's numeric day and a 24-hour clock, joined the locale's way ("3/4/2026, 13:06")
    day = format_skeleton("yMd", local.date(), locale=locale)
    clock = format_time(local.time(), "HH:mm:ss" if seconds else "HH:mm", locale=locale)
    return get_datetime_format("short", locale=locale).replace("{1}", day).replace("{0}", clock)


def format_date(value: date | datetime | None) -> str:
    """A day, written the request language's way (empty for None)."""
    if value is None:
        return ""
    day = _local(value).date() if isinstance(value, datetime) else value
    code = current_language()
    if code == DEFAULT_LOCALE:
        return day.isoformat()
    return format_skeleton("yMd", day, locale=Locale.parse(code))


def format_number(value: int | float | Decimal | None) -> str:
    """A number with the request language's grouping (zh_Hans as today: no grouping)."""
    if value is None:
        return ""
    code = current_language()
    if code == DEFAULT_LOCALE or isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return str(value)
    return format_decimal(value, locale=Locale.parse(code))


# ---------------------------------------------------------------------------------------------- catalogues


def _build_dir(app: Flask) -> Path:
    # Next to the sources when the package folder is writable (a checkout), else in the data folder
    # (an installed, read-only package).
    if os.access(SOURCE_DIR, os.W_OK):
        return SOURCE_DIR
    return Path(app.config["DATA_DIR"]) / "translations"


def _sources_stamp(po_files: list[Path]) -> str:
    parts = [f"{p.name}:{p.stat().st_mtime_ns}:{p.stat().st_size}" for p in po_files]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def merge_catalogues(lang: str, po_files: list[Path]) -> Catalog:
    """One catalogue of every translated, non-fuzzy message of ``po_files`` (later files win a clash)."""
    merged = Catalog(locale=lang, domain=DOMAIN, fuzzy=False)
    for po in po_files:
        with po.open("rb") as handle:
            catalogue = read_po(handle, locale=lang)
        for message in catalogue:
            if not message.id or message.fuzzy or not message.string:
                continue
            merged.add(message.id, message.string)
    return merged


def compile_catalogues(source_dir: Path, target_dir: Path) -> Path:
    """Write ``<target>/<lang>/LC_MESSAGES/messages.mo`` for each language folder of ``source_dir`` whose
    ``*.po`` files changed since it was last written (a stamp of their names, sizes and times sits
    beside it). Written to a temporary file and renamed: two processes starting at once are safe."""
    if not source_dir.is_dir():
        return target_dir
    for lang_dir in sorted(p for p in source_dir.iterdir() if p.is_dir()):
        po_files = sorted((lang_dir / "LC_MESSAGES").glob("*.po"))
        if not po_files:
            continue
        out_dir = target_dir / lang_dir.name / "LC_MESSAGES"
        mo_path = out_dir / f"{DOMAIN}.mo"
        stamp_path = out_dir / f"{DOMAIN}.mo.stamp"
        stamp = _sources_stamp(po_files)
        if mo_path.exists() and stamp_path.exists() and stamp_path.read_text() == stamp:
            continue
        out_dir.mkdir(parents=True, exist_ok=True)
        catalogue = merge_catalogues(lang_dir.name, po_files)
        for path, write in ((mo_path, lambda h: write_mo(h, catalogue)),
                            (stamp_path, lambda h: h.write(stamp.encode()))):
            fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                write(handle)
            os.replace(tmp, path)
    return target_dir


__all__ = ["DEFAULT_LOCALE", "HTML_LANG", "LANGUAGES", "LANG_COOKIE", "_", "_l", "chosen_locale",
           "compile_catalogues", "current_language", "format_date", "format_datetime", "format_number",
           "html_lang", "init_app", "merge_catalogues", "ngettext", "remember_language", "select_locale"]
