"""The Python side of the three languages (简体中文 source, 繁體中文, English).

Every Chinese text in archive_app/**/*.py is either marked for translation (``_``/``_l``/``ngettext``
from ``archive_app.i18n``), a docstring, or data on the allowlists below (each with why); every
marked text has a reviewed translation in both code.po catalogues; and a flash message, an error
page, an XLSX header and the destruction certificate come out in English and in 繁體中文.
Templates are checked by tests/test_i18n_pages.py.
"""
from __future__ import annotations

import ast
import io
import re
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from archive_app.vocabulary import BUSINESS_TYPES, RECORD_TYPES

ROOT = Path(__file__).resolve().parent.parent
HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
MARKERS = {"_": 1, "_l": 1, "ngettext": 2}
LANGS = ("zh_Hant", "en")
PLACEHOLDER = re.compile(r"%\(\w+\)[sdfr]")

# Whole modules whose Chinese is data or not shown to people in the app.
ALLOWED_MODULES = {
    "archive_app/i18n.py": "langpages' module (its texts are in pages.po)",
    "archive_app/navigation.py": "langpages' menus (checked with the templates)",
    "archive_app/config.py": "settings descriptions for operators (English, naming Chinese terms)",
    "archive_app/cli.py": "display name stored for the first administrator",
    "archive_app/intake/naming_rule.py": "parses Chinese record-type names out of file names",
    "archive_app/printing/pdfa.py": "the PDF Producer/Creator metadata, one product name in every document",
    "archive_app/api/openapi.py": "the OpenAPI document for developers, not UI",
}
# Module-level constants whose Chinese is data (stored, matched or parsed), not UI.
ALLOWED_CONSTANTS = {
    ("archive_app/vocabulary.py", "RECORD_TYPES"): "record type names are stored values (labels: templates)",
    ("archive_app/vocabulary.py", "RECORD_TYPE_CODES"): "keys are the stored record type names",
    ("archive_app/vocabulary.py", "BUSINESS_TYPES"): "stored values",
    ("archive_app/intake/admission_checks.py", "EXTRACTION_CHECKER"): "stored as the checker's name",
    ("archive_app/intake/admission_checks.py", "BACKFILL_CHECKER"): "stored as the checker's name",
    ("archive_app/intake/admission_checks.py", "UNDATED_TYPES"): "record type names (stored values)",
    ("archive_app/intake/admission_checks.py", "CUSTOMER_FIELDS"): "keys are record type names; labels marked",
    ("archive_app/intake/models.py", "ERASED_NAME"): "stored in customers.name and searched for",
    ("archive_app/intake/intake_folder.py", "SYSTEM_DISPLAY_NAME"): "stored as the system user's name",
    ("archive_app/registers/headers.py", "FIELDS"): "header spellings matched in registers; labels marked",
    ("archive_app/registers/rows.py", "_KIND_WORDS"): "words typed in registers",
    ("archive_app/registers/rows.py", "_YES"): "words typed in registers",
    ("archive_app/registers/rows.py", "_NO"): "words typed in registers",
    ("archive_app/registers/rows.py", "_DATE_TEXT"): "dates typed in registers (regular expression)",
    ("archive_app/registers/importing.py", "GRADE_REASON"): "stored in the grade history",
    ("archive_app/retention/disposal.py", "METHOD"): "stored as the batch's method",
    ("archive_app/retention/models.py", "PAPER_METHODS"): "keys are stored codes; labels marked",
    ("archive_app/backup/backups.py", "AUDIT_KEY_NOTE"): "written into the backup manifest",
    ("archive_app/accounts/second_factor.py", "ISSUER"): "the authenticator apps' issuer, kept stable",
    ("archive_app/borrowing/api.py", "REGISTER_FILTERS"): "part of the OpenAPI document",
}
# Single literals that are data inside code that is otherwise UI.
ALLOWED_LITERALS = {
    ("archive_app/retention/schedule.py", "永久"): "typed in the schedule form as years",
    ("archive_app/registers/rows.py", "个人"): "the default customer kind word in registers",
    ("archive_app/registers/rows.py", "级"): "the grade suffix typed in registers (A级)",
    ("archive_app/registers/rows.py", r"[\s岁㎡平米方元/]|m2|M2"): "units typed in registers (regular expression)",
}
# Stored values compared or written by code: the record types and business types.
DATA_VALUES = set(RECORD_TYPES) | set(BUSINESS_TYPES)


def _modules():
    for path in sorted((ROOT / "archive_app").rglob("*.py")):
        yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _docstrings(tree: ast.AST) -> set[ast.AST]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(first.value)
    return found


def _marked(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in MARKERS


def _top_level_names(node: ast.AST, parents: dict) -> set[str]:
    while not isinstance(parents.get(node), ast.Module):
        node = parents[node]
    if isinstance(node, ast.Assign):
        return {t.id for t in node.targets if isinstance(t, ast.Name)}
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return {node.target.id}
    return set()


def _api_text(node: ast.AST, parents: dict) -> bool:
    """A route's summary or a schema's description: the OpenAPI document, for developers."""
    parent = parents.get(node)
    if isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name) and parent.func.id == "route":
        return True
    if isinstance(parent, ast.Dict):
        key = parent.keys[parent.values.index(node)] if node in parent.values else None
        return isinstance(key, ast.Constant) and key.value in ("description", "summary")
    return False


def unmarked_chinese() -> list[str]:
    """Every Chinese str literal in archive_app that is neither marked, a docstring nor allowed data."""
    bad = []
    for rel, tree in _modules():
        if rel in ALLOWED_MODULES:
            continue
        parents, docs = _parents(tree), _docstrings(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str) and HAN.search(node.value)):
                continue
            holder = parents.get(node)
            while isinstance(holder, (ast.JoinedStr, ast.FormattedValue)):  # an f-string's parts: judge the f-string
                node, holder = holder, parents.get(holder)
            if node in docs or (_marked(holder) and node in holder.args):
                continue
            value = getattr(node, "value", None)
            if value in DATA_VALUES or (rel, value) in ALLOWED_LITERALS or _api_text(node, parents):
                continue
            if any((rel, name) in ALLOWED_CONSTANTS for name in _top_level_names(node, parents)):
                continue
            bad.append(f"{rel}:{node.lineno}: {ast.unparse(node)[:80]}")
    return sorted(set(bad))


def marked_texts() -> dict[str | tuple[str, str], str]:
    """msgid (``(singular, plural)`` for ngettext) -> first place it is marked."""
    found: dict[str | tuple[str, str], str] = {}
    for rel, tree in _modules():
        if rel in ("archive_app/i18n.py", "archive_app/navigation.py"):
            continue
        for node in ast.walk(tree):
            if _marked(node):
                args = node.args[:MARKERS[node.func.id]]
                assert all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args), \
                    f"{rel}:{node.lineno}: a marked text must be a literal (extraction reads it)"
                msgid = args[0].value if len(args) == 1 else (args[0].value, args[1].value)
                found.setdefault(msgid, f"{rel}:{node.lineno}")
    return found


def _po_files(lang: str) -> list:
    return sorted((ROOT / "archive_app" / "translations" / lang / "LC_MESSAGES").glob("*.po"))


def catalogue(lang: str):
    """code.po with the messages only the other catalogues of ``lang`` hold (texts marked in the Python
    of i18n.py and navigation.py live in pages.po): the app compiles them into one."""
    with (ROOT / "archive_app" / "translations" / lang / "LC_MESSAGES" / "code.po").open("rb") as f:
        cat = read_po(f, locale=lang)
    for path in _po_files(lang):
        if path.name != "code.po":
            with path.open("rb") as f:
                for msg in read_po(f, locale=lang):
                    if msg.id and cat.get(msg.id) is None:
                        cat[msg.id] = msg
    return cat


@pytest.mark.parametrize("lang", LANGS)
def test_a_text_in_two_catalogues_has_one_translation(lang):
    """The catalogues are merged into one: a text both hold must read the same, or one would be lost."""
    seen: dict = {}
    clashes = []
    for path in _po_files(lang):
        with path.open("rb") as f:
            for msg in read_po(f, locale=lang):
                if not msg.id:
                    continue
                if msg.id in seen and seen[msg.id][1] != msg.string:
                    clashes.append(f"{msg.id!r}: {seen[msg.id][0]} {seen[msg.id][1]!r}, {path.name} {msg.string!r}")
                seen.setdefault(msg.id, (path.name, msg.string))
    assert not clashes, f"{lang}: {len(clashes)} texts translated twice, differently:\n" + "\n".join(clashes[:40])


def test_every_chinese_text_in_python_is_marked_or_allowed_data():
    bad = unmarked_chinese()
    assert not bad, f"{len(bad)} Chinese texts are neither marked (_/_l/ngettext) nor allowed data:\n" + \
        "\n".join(bad[:60])


def test_the_allowlists_name_what_exists():
    modules = {rel for rel, _tree in _modules()}
    assert set(ALLOWED_MODULES) <= modules
    names = set()
    for rel, tree in _modules():
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            names |= {(rel, t.id) for t in targets if isinstance(t, ast.Name)}
    assert set(ALLOWED_CONSTANTS) <= names, set(ALLOWED_CONSTANTS) - names


@pytest.mark.parametrize("lang", LANGS)
def test_every_marked_text_has_a_reviewed_translation(lang):
    cat = catalogue(lang)
    missing, fuzzy, placeholders = [], [], []
    for msgid, where in marked_texts().items():
        plural = isinstance(msgid, tuple)
        msg = cat.get(msgid[0] if plural else msgid)
        strings = (msg.string if isinstance(msg.string, tuple) else (msg.string,)) if msg is not None else ()
        if msg is None or isinstance(msg.id, tuple) != plural or not strings or not all(strings):
            missing.append(f"{where}: {msgid}")
        elif msg.fuzzy:
            fuzzy.append(f"{where}: {msgid}")
        elif any(sorted(set(PLACEHOLDER.findall(msgid[0] if plural else msgid)))
                 != sorted(set(PLACEHOLDER.findall(one))) for one in strings):
            placeholders.append(f"{where}: {msgid} -> {msg.string}")
    assert not missing, f"{lang}: {len(missing)} untranslated (scripts/update-code-catalogues.py):\n" + \
        "\n".join(missing[:40])
    assert not fuzzy, f"{lang}: {len(fuzzy)} drafts to review:\n" + "\n".join(fuzzy[:40])
    assert not placeholders, f"{lang}: placeholders differ:\n" + "\n".join(placeholders[:40])


# ------------------------------------------------------------------------------------ rendered output

EXPECTED = {
    "en": {"flash": "You have signed out", "error": "Page or record not found", "header": "Request no.",
           "certificate": "Certificate of records destruction", "total": "Total: 1 records",
           "pages": ("1 page", "2 pages")},
    "zh_Hant": {"flash": "您已登出", "error": "頁面或檔案不存在", "header": "借閱單號",
                "certificate": "檔案銷毀證明書", "total": "合計：銷毀檔案 1 件", "pages": ("1 頁", "2 頁")},
}
SOURCE = {"flash": "您已退出登录", "error": "页面或档案不存在", "header": "借阅单号", "certificate": "档案销毁证明书"}


@pytest.fixture
def translated_app(request, tmp_path):
    """An app on SQLite whose catalogues are this worktree's code.po files, compiled."""
    from flask_babel import force_locale  # noqa: F401  (fails here, not mid-test, when Flask-Babel is missing)

    from tests.conftest import _cleanup, make_app

    folder = tmp_path / "translations"
    for lang in LANGS:
        out = folder / lang / "LC_MESSAGES" / "messages.mo"
        out.parent.mkdir(parents=True)
        with out.open("wb") as f:
            write_mo(f, catalogue(lang))
    app = make_app("sqlite-fs", tmp_path, request, {"BABEL_TRANSLATION_DIRECTORIES": str(folder)})
    yield app
    _cleanup(app)


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


@pytest.mark.parametrize("lang", LANGS)
def test_flash_error_page_xlsx_header_and_certificate_in_each_language(translated_app, lang, tmp_path):
    from flask_babel import force_locale
    from openpyxl import load_workbook

    from archive_app.i18n import ngettext
    from archive_app.retention.certificates import certificate_pdf
    from tests.conftest import create_users
    from tests.helpers import login

    want = EXPECTED[lang]
    create_users(translated_app)
    client = translated_app.test_client()
    login(client, "archivist")
    # The requests share this app context, so the forced locale is theirs (as a user's chosen locale would be).
    with translated_app.app_context(), force_locale(lang):
        client.post("/logout")
        page = client.get("/login").get_data(as_text=True)
        assert want["flash"] in page and SOURCE["flash"] not in page

        missing = client.get("/no-such-page", headers={"Accept": "text/html"})
        assert missing.status_code == 404
        assert want["error"] in missing.get_data(as_text=True)
        api = client.get("/api/v1/no-such-thing")
        assert api.status_code == 404 and api.json["error"]["code"] == "not_found"
        assert api.json["error"]["message"] == want["error"]

        login(client, "archivist")
        xlsx = client.get("/loans/register.xlsx")
        assert xlsx.status_code == 200
        rows = list(load_workbook(io.BytesIO(xlsx.data)).active.iter_rows(values_only=True))
        header = next(r for r in rows if r and want["header"] in r)
        assert SOURCE["header"] not in header

        assert tuple(ngettext("%(num)s 页", "%(num)s 页", n) for n in (1, 2)) == want["pages"]

        now = datetime(2026, 3, 14, 6, 30, tzinfo=UTC)
        people = [SimpleNamespace(display_name=n) for n in ("王五", "甲", "乙", "喆")]
        batch = SimpleNamespace(batch_no="XH-2026-0007", due_by=date(2026, 1, 1), created_by=people[3],
                                created_at=now, approved_by=people[0], approved_at=now, decision_note="同意",
                                executed_by=people[3], started_at=now, finished_at=None, method="电子数据彻底删除")
        entry = SimpleNamespace(archival_code="0001-2015-D10-C000001-0001", title="温馨卡 赵六", page_count=2,
                                sha256s="ab" * 32, file_count=1, total_bytes=1234)
        signed = [SimpleNamespace(user=people[1], signed_at=now), SimpleNamespace(user=people[2], signed_at=now)]
        text = _pdf_text(certificate_pdf(batch, [entry], signed, "Asia/Shanghai", finished_at=now), tmp_path)
    flat = re.sub(r"\s+", " ", text)
    assert want["certificate"] in flat and want["total"] in flat, flat[:600]
    assert SOURCE["certificate"] not in flat
    assert "XH-2026-0007" in flat  # the Latin letters come out of the same embedded font
