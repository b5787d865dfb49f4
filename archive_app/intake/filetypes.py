"""Decide what an uploaded file is by its content, never by its name, and count its pages; clean the name."""
from __future__ import annotations

import logging
import re
import unicodedata
import warnings
from typing import BinaryIO

from archive_app.errors import BadFile, UnsupportedType

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
    stream.seek(0)
    head = stream.read(1024)
    stream.seek(0)
    if not head:
        raise BadFile(f"文件为空：{filename}", code="empty_file", status=400)
    mime = sniff(head)
    if mime is None:
        raise UnsupportedType(f"不支持的文件类型：{filename}（仅接受 PDF、JPEG、PNG、TIFF）", code="unsupported_type")
    try:
        pages = _pdf_pages(stream, filename) if mime == "application/pdf" else _image_pages(stream, filename)
    finally:
        stream.seek(0)
    return mime, pages


def _pdf_pages(stream: BinaryIO, filename: str) -> int:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    # pypdf reports recoverable damage through logging and warnings; those files are still accepted.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            reader = PdfReader(stream, strict=False)
            if reader.is_encrypted and not _opens_without_password(reader):
                raise BadFile(f"PDF 已加密，无法读取：{filename}。请上传未加密的文件", code="encrypted_pdf")
            count = len(reader.pages)
        except BadFile:
            raise
        except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
            raise BadFile(f"PDF 文件已损坏，无法读取：{filename}", code="corrupt_pdf",
                          details={"reason": type(exc).__name__}) from None
        except NotImplementedError:
            raise BadFile(f"PDF 使用了不支持的加密方式：{filename}", code="encrypted_pdf") from None
    if count < 1:
        raise BadFile(f"PDF 没有任何页面：{filename}", code="corrupt_pdf")
    return count


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
            raise BadFile(f"图像尺寸过大，疑似压缩炸弹：{filename}", code="image_too_large") from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
            raise BadFile(f"图像文件已损坏，无法读取：{filename}", code="corrupt_image") from None


def _frames_checked(img, filename: str) -> int:
    """The number of frames of an opened image, each frame's size checked against ``MAX_IMAGE_PIXELS``."""
    count = getattr(img, "n_frames", 1) or 1
    if count > MAX_FRAMES:
        raise BadFile(f"图像文件页数过多（{count} 页，上限 {MAX_FRAMES}）：{filename}", code="too_many_frames")
    for index in range(count):
        if index:
            img.seek(index)
        width, height = img.size
        if width * height > MAX_IMAGE_PIXELS:
            where = f"第 {index + 1} 页" if count > 1 else ""
            raise BadFile(f"图像{where}尺寸过大（{width}×{height}），疑似压缩炸弹：{filename}",
                          code="image_too_large", details={"frame": index + 1, "width": width, "height": height})
    return count
