"""Image files that must be refused or fail alone: bombs, cut-off and mislabelled files.

(The hostile PDFs are in ``pdfs.py``.)
"""
from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` RGB pixels (30 GB for the default) and whose
    data is a few bytes: it must be refused before any pixel is decoded."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + _chunk(b"IEND", b""))


def tiff_with_huge_frame(width: int, height: int) -> bytes:
    """A two-page TIFF: an 8x8 first page, then a page whose header claims ``width`` x ``height``
    1-bit pixels with 8 bytes of data behind it. Only a check of every frame's header finds it."""
    def ifd(w: int, h: int, data_at: int, next_at: int) -> bytes:
        short = lambda tag, v: struct.pack("<HHIHH", tag, 3, 1, v, 0)  # noqa: E731
        long = lambda tag, v: struct.pack("<HHII", tag, 4, 1, v)  # noqa: E731
        entries = [long(256, w), long(257, h), short(258, 1), short(259, 1), short(262, 1), long(273, data_at),
                   short(277, 1), long(278, h), long(279, 8)]
        return struct.pack("<H", len(entries)) + b"".join(entries) + struct.pack("<I", next_at)

    ifd_size = 2 + 9 * 12 + 4
    first, second = 8, 8 + ifd_size
    data = second + ifd_size
    return (b"II*\x00" + struct.pack("<I", first) + ifd(8, 8, data, second) + ifd(width, height, data, 0)
            + b"\xff" * 8)


def truncated_png(size: tuple[int, int] = (400, 300)) -> bytes:
    """A PNG with a valid header and half its pixel data: accepted at upload, unreadable later."""
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 10, 20)).save(buf, format="PNG")
    data = buf.getvalue()
    return data[: len(data) // 2]


def cut_off(data: bytes, keep: int = 2000) -> bytes:
    """The first ``keep`` bytes of a file."""
    return data[:keep]


ZIP_NAMED_PDF = b"PK\x03\x04 this is a zip, not a PDF"
ZEROS_NAMED_JPEG = b"\x00" * 1000
TEXT_NAMED_PDF = b"just some text, named like a pdf"
