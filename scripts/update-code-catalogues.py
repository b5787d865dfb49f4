#!/usr/bin/env python3
"""Bring archive_app/translations/<lang>/LC_MESSAGES/code.po up to date with the texts marked in Python.

Dev-time tool (not imported at run time). The msgids are the Simplified Chinese texts given to
``_``/``_l``/``ngettext`` in archive_app/**/*.py (templates are langpages' pages.po). Existing
translations are kept; a new msgid gets a zh_Hant draft converted with OpenCC (s2twp: Taiwan
usage, with 文件 kept apart from 档案 and 销毁 as 銷毀) marked fuzzy for review, and an empty
English translation; msgids no longer in the code are dropped. tests/test_i18n_code.py fails
until every msgid has a non-fuzzy translation in both catalogues.

    python scripts/update-code-catalogues.py
"""
from __future__ import annotations

import ast
import sys
from functools import lru_cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LANGS = ("zh_Hant", "en")
MARKERS = {"_": 1, "_l": 1, "ngettext": 2}
# Not this catalogue's: langpages' i18n and navigation texts go into pages.po.
SKIP = {"archive_app/i18n.py", "archive_app/navigation.py"}


def marked_texts(root: Path = ROOT) -> dict[str | tuple[str, str], list[tuple[str, int]]]:
    """msgid (``(singular, plural)`` for ngettext) -> where it is marked, in file order."""
    found: dict[str | tuple[str, str], list[tuple[str, int]]] = {}
    for path in sorted((root / "archive_app").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel in SKIP:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in MARKERS:
                args = node.args[:MARKERS[node.func.id]]
                if all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args):
                    msgid = args[0].value if len(args) == 1 else (args[0].value, args[1].value)
                    found.setdefault(msgid, []).append((rel, node.lineno))
    return found


# What s2twp gets wrong for an archive (found reviewing the first catalogue): 权限 is not 許可權, 审核 (review)
# is not 稽核 (audit), 类型 is 類型 not 型別 (a programming term), 代码 in 信用代码 is not 程式碼, ...
REVIEWED = {
    "燬": "毀", "許可權": "權限", "稽核": "審核", "型別": "類型", "程式碼": "代碼", "引數": "參數", "指令碼": "腳本",
    "呼叫": "調用", "賬號": "帳號", "永久儲存": "永久保存", "退出登入": "登出", "文件夾": "資料夾", "下采用": "下採用",
}


@lru_cache(maxsize=1)
def _converter():
    import opencc

    return opencc.OpenCC("s2twp")


def to_traditional(text: str) -> str:
    """A zh_Hant draft of a Simplified text (Taiwan wording), for review."""
    converter = _converter()
    # s2twp turns 文件 (document, file) into 檔案, which the archive uses for 档案 (record): keep them apart.
    parts = [converter.convert(p) for p in text.split("文件")]
    out = "文件".join(parts)
    for wrong, right in REVIEWED.items():
        out = out.replace(wrong, right)
    return out


def _strings(string: str | tuple[str, ...]) -> tuple[str, ...]:
    return string if isinstance(string, tuple) else (string,)


def po_path(lang: str) -> Path:
    return ROOT / "archive_app" / "translations" / lang / "LC_MESSAGES" / "code.po"


def update(lang: str, texts: dict[str, list[tuple[str, int]]]) -> int:
    """Rewrite ``lang``'s code.po; the number of msgids that still need a translation."""
    path = po_path(lang)
    old = read_po(path.open("rb"), locale=lang) if path.exists() else Catalog(locale=lang)
    cat = Catalog(locale=lang, project="customer-archive", domain="code", charset="utf-8",
                  language_team=f"{lang} <archive>", fuzzy=False)
    todo = 0
    for msgid, where in texts.items():
        prev = old.get(msgid[0] if isinstance(msgid, tuple) else msgid)
        plural = isinstance(msgid, tuple)
        if prev is not None and prev.string and isinstance(prev.id, tuple) == plural and all(_strings(prev.string)):
            string, flags = prev.string, prev.flags
        elif lang == "zh_Hant":
            string = tuple(to_traditional(msgid[0]) for _ in range(cat.num_plurals)) if plural \
                else to_traditional(msgid)
            flags = {"fuzzy"}
        else:
            string, flags = (("",) * cat.num_plurals if plural else ""), set()
        if not all(_strings(string)) or "fuzzy" in flags:
            todo += 1
        cat.add(msgid, string, locations=where, flags=flags)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        write_po(out, cat, width=120, sort_output=False, include_previous=False)
    return todo


def main() -> int:
    texts = marked_texts()
    for lang in LANGS:
        todo = update(lang, texts)
        print(f"{lang}: {len(texts)} msgids, {todo} to translate or review")
    return 0


if __name__ == "__main__":
    sys.exit(main())
