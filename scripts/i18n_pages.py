"""Update the pages' catalogues (archive_app/translations/<lang>/LC_MESSAGES/pages.po) from the templates.

    python scripts/i18n_pages.py            # add new msgids, drop gone ones, keep every translation

Every ``_('…')`` of templates/ and of the language chooser's Python (i18n.py, accounts/language*.py) is
a msgid (and the menus of navigation.py). A new msgid gets its 繁體中文 prefilled by OpenCC (s2twp: Taiwan usage; review it) and an
empty English translation, which tests/test_i18n_pages.py reports until someone writes it.
A dev-time tool: nothing here is imported by the application.
"""
from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
PYTHON_SOURCES = [ROOT / "archive_app" / "i18n.py", ROOT / "archive_app" / "navigation.py", ROOT / "archive_app" / "accounts" / "language.py",
                  ROOT / "archive_app" / "accounts" / "language_views.py"]
TRANSLATIONS = ROOT / "archive_app" / "translations"
LANGS = ("zh_Hant", "en")
# OpenCC's s2twp, reviewed: the words it renders otherwise than a Taiwan/Hong Kong archive says them.
REVIEWED = {"銷燬": "銷毀", "賬號": "帳號", "賬戶": "帳戶", "型別": "類型", "工作臺": "工作台",
            "驗證器應用": "驗證器應用程式", "身份驗證器": "驗證器", "二維碼": "QR Code", "短訊息": "簡訊",
            "“": "「", "”": "」"}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None}


def extract() -> dict[str, list[tuple[str, int]]]:
    """msgid -> where it is used, in file order."""
    found: dict[str, list[tuple[str, int]]] = {}
    sources = [(p, "jinja2.ext:babel_extract") for p in sorted(TEMPLATES.rglob("*.html"))]
    sources += [(p, "python") for p in PYTHON_SOURCES]
    for path, method in sources:
        for lineno, message, _comments, _context in extract_from_file(method, str(path), keywords=KEYWORDS):
            msgid = message[0] if isinstance(message, tuple) else message
            found.setdefault(msgid, []).append((str(path.relative_to(ROOT)), lineno))
    return found


def read(lang: str) -> Catalog:
    path = TRANSLATIONS / lang / "LC_MESSAGES" / "pages.po"
    if not path.exists():
        return Catalog(locale=lang, domain="pages")
    with path.open("rb") as handle:
        return read_po(handle, locale=lang)


def update(prefill: dict[str, dict[str, str]] | None = None) -> None:
    """Rewrite both pages.po files with exactly the msgids in use."""
    used = extract()
    converter = None
    for lang in LANGS:
        old = read(lang)
        new = Catalog(locale=lang, domain="pages", project="customer-archive", fuzzy=False)
        for msgid, locations in used.items():
            previous = old.get(msgid)
            string = previous.string if previous is not None and previous.string else ""
            if not string and prefill and msgid in prefill.get(lang, {}):
                string = prefill[lang][msgid]
            if not string and lang == "zh_Hant":
                if converter is None:
                    import opencc
                    converter = opencc.OpenCC("s2twp")
                string = converter.convert(msgid)
                for wrong, right in REVIEWED.items():
                    string = string.replace(wrong, right)
            new.add(msgid, string, locations=locations, flags=("python-format",) if "%(" in msgid else ())
        path = TRANSLATIONS / lang / "LC_MESSAGES" / "pages.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, new, width=120, sort_output=False, include_previous=False)


if __name__ == "__main__":
    update()
    sys.exit(0)
