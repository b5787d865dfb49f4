"""Decide what an uploaded file is by its content, never by its name, and count its pages; clean the name."""
from __future__ import annotations

import logging
import re
import unicodedata
import warnings
from dataclasses import dataclass
from typing import BinaryIO

from archive_app.errors import BadFile, UnsupportedType
from archive_app.i18n import _, _l

# Magic numbers of the accepted formats.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)
ACCEPTED_TYPES = tuple(sorted({mime for _, mime in _SIGNATURES}))
# A 600 dpi A3 scan is ~70 Mpx; anything far beyond is refused as a likely decompression bomb.
MAX_IMAGE_PIXELS = 150_000_000
# More pages than any scanned customer document has; the reader refuses the same (reading/pipeline.py).
MAX_FRAMES = 2000


# A kept name fits any file system's 255-byte limit when it is downloaded, with room to spare.
MAX_NAME_BYTES = 200
_MAX_EXTENSION = 16
_SEPARATORS = re.compile(r"[/\\]")


def clean_filename(name: str | None) -> str:
    """The name a client sent, reduced to what the archive keeps and shows.

    Only the last path part, whichever separator the client used (``C:\\scans\\a.pdf`` and
    ``scans/a.pdf`` both give ``a.pdf``); no control or format characters (a right-to-left override
    could disguise the extension); at most ``MAX_NAME_BYTES`` UTF-8 bytes, cut from the stem so
    the extension stays. Nothing left: ``file``.
    """
    text = "".join(ch for ch in unicodedata.normalize("NFC", name or "")
                   if unicodedata.category(ch) not in {"Cc", "Cf"})
    text = _SEPARATORS.split(text)[-1].strip()
    if text in {"", ".", ".."}:
        return "file"
    if len(text.encode("utf-8")) <= MAX_NAME_BYTES:
        return text
    stem, dot, ext = text.rpartition(".")
    if not dot or not stem or len(ext.encode("utf-8")) > _MAX_EXTENSION:
        stem, ext = text, ""
    suffix = f".{ext}" if ext else ""
    room = MAX_NAME_BYTES - len(suffix.encode("utf-8"))
    # Cut on a character boundary: a half CJK character is no name.
    stem = stem.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip()
    return (stem or "file") + suffix


def sniff(head: bytes) -> str | None:
    """The MIME type the first bytes announce, or None if not an accepted format."""
    # PDF readers accept the header within the first 1 KiB; so do we.
    if b"%PDF-" in head[:1024]:
        return "application/pdf"
    for magic, mime in _SIGNATURES:
        if head.startswith(magic):
            return mime
    return None


def inspect(stream: BinaryIO, filename: str = "") -> tuple[str, int | None]:
    """Return (mime type, page count) of a seekable stream, or raise a DomainError saying why not.

    The stream is left at position 0.
    """
    mime, pages, _ = examine(stream, filename, risks=False)
    return mime, pages


def examine(stream: BinaryIO, filename: str = "", *, risks: bool = True) -> tuple[str, int | None, list[Risk]]:
    """``inspect`` plus, for a PDF, what in it could act on the reader's machine (``pdf_risks``), found
    while the file is open anyway: the upload's one parse serves both (四性检测's security check)."""
    stream.seek(0)
    head = stream.read(1024)
    stream.seek(0)
    if not head:
        raise BadFile(_("文件为空：%(filename)s", filename=filename), code="empty_file", status=400)
    mime = sniff(head)
    if mime is None:
        raise UnsupportedType(_("不支持的文件类型：%(filename)s（仅接受 PDF、JPEG、PNG、TIFF）", filename=filename), code="unsupported_type")
    found: list[Risk] = []
    try:
        if mime == "application/pdf":
            pages = _pdf_pages(stream, filename, found if risks else None)
        else:
            pages = _image_pages(stream, filename)
    finally:
        stream.seek(0)
    return mime, pages, found


def _pdf_pages(stream: BinaryIO, filename: str, risks: list[Risk] | None = None) -> int:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    # pypdf reports recoverable damage through logging and warnings; those files are still accepted.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            reader = PdfReader(stream, strict=False)
            if reader.is_encrypted and not _opens_without_password(reader):
                raise BadFile(_("PDF 已加密，无法读取：%(filename)s。请上传未加密的文件", filename=filename), code="encrypted_pdf")
            count = len(reader.pages)
            if risks is not None:
                risks.extend(pdf_risks(reader))
        except BadFile:
            raise
        except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
            raise BadFile(_("PDF 文件已损坏，无法读取：%(filename)s", filename=filename), code="corrupt_pdf",
                          details={"reason": type(exc).__name__}) from None
        except NotImplementedError:
            raise BadFile(_("PDF 使用了不支持的加密方式：%(filename)s", filename=filename), code="encrypted_pdf") from None
    if count < 1:
        raise BadFile(_("PDF 没有任何页面：%(filename)s", filename=filename), code="corrupt_pdf")
    return count


@dataclass(frozen=True)
class Risk:
    """Something in a file that could act on the machine it is opened on: a stable code, and a 简体中文 detail."""

    code: str
    detail: str


# Actions that run something, fetch or send data, or open what the file carries, by their /S name.
_ACTIVE_ACTIONS = {
    "/JavaScript": ("javascript", _l("JavaScript 脚本")),
    "/Launch": ("launch", _l("启动外部程序或文件（Launch）")),
    "/SubmitForm": ("submit", _l("向外部地址提交表单数据（SubmitForm）")),
    "/ImportData": ("submit", _l("从外部文件导入数据（ImportData）")),
    "/GoToE": ("embedded_file", _l("跳转到嵌入文件（GoToE）")),
    "/RichMediaExecute": ("javascript", _l("富媒体脚本（RichMediaExecute）")),
}
# Actions, annotations and fields looked at before the scan gives up (a hostile file can hold millions).
_MAX_SCANNED = 20_000


def pdf_risks(reader) -> list[Risk]:
    """What in an open PDF could act on its reader's machine: JavaScript, Launch and other active actions
    (where they would run: on opening, on a page, a link, a form field), embedded files, XFA forms, and
    encryption (only a PDF that opens without a password gets this far).

    Walks the catalog, the document's and pages' actions, annotations and form fields through pypdf's
    objects, so compressed object streams and ``#xx``-escaped names are seen as a reader sees them.
    An OpenAction that only opens a page (a destination or /GoTo) runs nothing and is not reported.
    Never raises: a structure it cannot follow is itself reported (``unscanned``).
    """
    found: list[Risk] = []
    seen: set[int] = set()
    budget = [_MAX_SCANNED]

    def add(code: str, detail: str) -> None:
        risk = Risk(code, detail)
        if risk not in found:
            found.append(risk)

    def resolve(obj):
        return obj.get_object() if hasattr(obj, "get_object") else obj

    def action(obj, where: str) -> None:
        obj = resolve(obj)
        while obj is not None and budget[0] > 0:
            budget[0] -= 1
            if isinstance(obj, list):
                for item in obj:
                    action(item, where)
                return
            if not hasattr(obj, "get") or id(obj) in seen:
                return
            seen.add(id(obj))
            kind = str(obj.get("/S", ""))
            if kind in _ACTIVE_ACTIONS or "/JS" in obj:
                code, label = _ACTIVE_ACTIONS.get(kind, _ACTIVE_ACTIONS["/JavaScript"])
                label = str(label)
                add(code, _("%(where)s含%(label)s", where=where, label=label))
            obj = resolve(obj.get("/Next"))

    def actions_of(holder, where: str) -> None:
        if holder is None:
            return
        if "/A" in holder:
            action(holder["/A"], where)
        additional = resolve(holder.get("/AA"))
        if hasattr(additional, "values"):
            for value in additional.values():
                action(value, where)

    try:
        if reader.is_encrypted:
            add("encrypted", _("PDF 已加密（仅设权限密码，可不输入密码打开）"))
        root = resolve(reader.trailer["/Root"])
        opening = resolve(root.get("/OpenAction"))
        if hasattr(opening, "get"):
            if str(opening.get("/S", "")) not in ("", "/GoTo"):
                add("open_action", _("打开文档时自动执行动作（OpenAction %(s)s）", s=opening.get('/S')))
            action(opening, _("打开文档时的动作"))  # a /GoTo may still chain a script through /Next
        additional = resolve(root.get("/AA"))
        if hasattr(additional, "values"):
            for value in additional.values():
                action(value, _("文档级附加动作"))
        names = resolve(root.get("/Names"))
        if hasattr(names, "get"):
            if "/JavaScript" in names:
                add("javascript", _("文档级 JavaScript 脚本（名称树 /JavaScript）"))
            if "/EmbeddedFiles" in names:
                for name in _name_tree_keys(resolve(names["/EmbeddedFiles"]), budget):
                    add("embedded_file", _("嵌入文件：%(name)s", name=name))
        form = resolve(root.get("/AcroForm"))
        if hasattr(form, "get"):
            if "/XFA" in form:
                add("xfa", _("XFA 表单（可含脚本）"))
            fields = list(resolve(form.get("/Fields")) or [])
            while fields and budget[0] > 0:
                budget[0] -= 1
                field_ = resolve(fields.pop())
                if hasattr(field_, "get"):
                    actions_of(field_, _("表单字段"))
                    fields.extend(resolve(field_.get("/Kids")) or [])
        for number, page in enumerate(reader.pages, start=1):
            if budget[0] <= 0:
                break
            actions_of(page, _("第 %(number)s 页", number=number))
            for annot in resolve(page.get("/Annots")) or []:
                budget[0] -= 1
                annot = resolve(annot)
                if not hasattr(annot, "get"):
                    continue
                if annot.get("/Subtype") == "/FileAttachment":
                    spec = resolve(annot.get("/FS"))
                    name = spec.get("/UF") or spec.get("/F") if hasattr(spec, "get") else None
                    add("embedded_file", _("第 %(number)s 页附件注释：%(value)s", number=number, value=name or _('（未命名）')))
                actions_of(annot, _("第 %(number)s 页的链接或注释", number=number))
        if budget[0] <= 0:
            add("unscanned", _("结构过于复杂（超过 %(max_scanned)s 个动作、注释或字段），未全部检查", max_scanned=_MAX_SCANNED))
    except Exception as exc:  # noqa: BLE001 - a damaged structure must never refuse an upload it did not refuse
        add("unscanned", _("部分结构无法检查（%(name)s）", name=type(exc).__name__))
    return found


def _name_tree_keys(node, budget: list[int]) -> list[str]:
    """The keys of a PDF name tree (the embedded files' names), depth-first, within the scan budget."""
    keys: list[str] = []
    stack = [node]
    while stack and budget[0] > 0:
        budget[0] -= 1
        node = stack.pop()
        node = node.get_object() if hasattr(node, "get_object") else node
        if not hasattr(node, "get"):
            continue
        names = node.get("/Names")
        names = names.get_object() if hasattr(names, "get_object") else names
        if names:
            keys.extend(str(k) for k in list(names)[0::2])
        kids = node.get("/Kids")
        kids = kids.get_object() if hasattr(kids, "get_object") else kids
        stack.extend(kids or [])
    return keys or [_("（未命名）")]


def _opens_without_password(reader) -> bool:
    # Owner-password-only PDFs (print/copy restrictions) decrypt with an empty user password.
    try:
        return bool(reader.decrypt(""))
    except Exception:  # noqa: BLE001 - pypdf raises many kinds here (unsupported cipher, missing crypto lib)
        return False


def _image_pages(stream: BinaryIO, filename: str) -> int:
    from PIL import Image, UnidentifiedImageError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            # Opening and seeking read headers only; every frame's pixel count is checked before
            # anything is decoded (a TIFF's later frames can be the bomb, behind a harmless first one).
            with Image.open(stream) as img:
                return _frames_checked(img, filename)
        except BadFile:
            raise
        except Image.DecompressionBombError:
            raise BadFile(_("图像尺寸过大，疑似压缩炸弹：%(filename)s", filename=filename), code="image_too_large") from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
            raise BadFile(_("图像文件已损坏，无法读取：%(filename)s", filename=filename), code="corrupt_image") from None


def _frames_checked(img, filename: str) -> int:
    """The number of frames of an opened image, each frame's size checked against ``MAX_IMAGE_PIXELS``."""
    count = getattr(img, "n_frames", 1) or 1
    if count > MAX_FRAMES:
        raise BadFile(_("图像文件页数过多（%(count)s 页，上限 %(max_frames)s）：%(filename)s", count=count, max_frames=MAX_FRAMES, filename=filename), code="too_many_frames")
    for index in range(count):
        if index:
            img.seek(index)
        width, height = img.size
        if width * height > MAX_IMAGE_PIXELS:
            where = _("第 %(value)s 页", value=index + 1) if count > 1 else ""
            raise BadFile(_("图像%(where)s尺寸过大（%(width)s×%(height)s），疑似压缩炸弹：%(filename)s", where=where, width=width, height=height, filename=filename),
                          code="image_too_large", details={"frame": index + 1, "width": width, "height": height})
    return count
