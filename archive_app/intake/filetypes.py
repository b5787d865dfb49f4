"""Decide what an uploaded file is by its content, never by its name, and count its pages."""
from __future__ import annotations

import logging
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
            # Opening reads the header only; the pixel count is checked before anything is decoded.
            with Image.open(stream) as img:
                if img.width * img.height > MAX_IMAGE_PIXELS:
                    raise BadFile(f"图像尺寸过大（{img.width}×{img.height}），疑似压缩炸弹：{filename}",
                                  code="image_too_large")
                return getattr(img, "n_frames", 1) or 1
        except BadFile:
            raise
        except Image.DecompressionBombError:
            raise BadFile(f"图像尺寸过大，疑似压缩炸弹：{filename}", code="image_too_large") from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            raise BadFile(f"图像文件已损坏，无法读取：{filename}", code="corrupt_image") from None
