"""Visible watermarks on copies handed to borrowers: page images, PDFs, JPEG/PNG/TIFF files.

Plain functions, no Flask and no database: callers pass the lines to print (borrower, department,
local time, request number) and get new bytes; the stored original is never touched.

Images are marked with Pillow: the lines are drawn once into a tile, the tile is turned 30° and
repeated over the whole picture, semi-transparent. Chinese needs a CJK font: Noto Sans/Serif CJK
is looked for under /usr/share/fonts (Debian's ``fonts-noto-cjk``); without one, Pillow's default
font draws only the ASCII part of each line (username, time, request number) and that is logged once.

PDFs get a one-page overlay drawn with reportlab in the embedded CJK font (``printing.fonts``: a
printed copy shows the marks in the same letters anywhere, and a PDF/A searchable copy keeps every
font embedded), merged on top of every page with pypdf. The result is written to an anonymous
temporary file (in ``tmp_dir``) so a large PDF is streamed from disk, not held in memory.
"""
from __future__ import annotations

import io
import logging
import math
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageDraw, ImageFont, ImageSequence

log = logging.getLogger(__name__)

FONT_DIRS = ("/usr/share/fonts",)
# Preferred files, best first; any other *CJK* OpenType/TrueType file is the last resort.
FONT_NAMES = ("NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf", "NotoSerifCJK-Regular.ttc")
TTC_SC_INDEX = 2  # Noto Sans CJK collections order their faces JP, KR, SC, TC, HK
ANGLE = 30
FILL = (150, 20, 20, 80)  # dark red at about 30 % opacity
PDF_ALPHA = 0.22
CHUNK = 1024 * 1024


class WatermarkError(Exception):
    """The file could not be read or marked (the caller must not hand out the unmarked original)."""


# ---------------------------------------------------------------------------------------------- fonts


@lru_cache(maxsize=1)
def find_cjk_font() -> Path | None:
    """The first CJK font file found under /usr/share/fonts, or None (logged once)."""
    found: list[Path] = []
    for root in FONT_DIRS:
        base = Path(root)
        if base.is_dir():
            found.extend(p for p in base.rglob("*") if "CJK" in p.name and p.suffix.lower() in {".ttc", ".otf", ".ttf"})
    for name in FONT_NAMES:
        for path in sorted(found):
            if path.name == name:
                return path
    if found:
        return min(found)
    log.warning("no CJK font under %s: watermarks on images carry only their ASCII text "
                "(install fonts-noto-cjk)", ", ".join(FONT_DIRS))
    return None


@lru_cache(maxsize=32)
def _font(size: int) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, bool]:
    """A font of ``size`` pixels and whether it draws CJK."""
    path = find_cjk_font()
    if path is not None:
        index = TTC_SC_INDEX if path.suffix.lower() == ".ttc" else 0
        try:
            return ImageFont.truetype(str(path), size, index=index), True
        except OSError:
            return ImageFont.truetype(str(path), size), True
    return ImageFont.load_default(size=size), False


def _ascii_only(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        text = " ".join("".join(ch if ch.isascii() else " " for ch in line).split())
        if text:
            out.append(text)
    return out


# ---------------------------------------------------------------------------------------------- images


def _overlay(size: tuple[int, int], lines: list[str]) -> Image.Image:
    """A transparent layer of ``size`` covered with the turned, repeated text."""
    width, height = size
    font_px = max(12, min(width, height) // 28)
    font, cjk = _font(font_px)
    text = "\n".join(lines if cjk else _ascii_only(lines)) or "-"
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    left, top, right, bottom = probe.multiline_textbbox((0, 0), text, font=font, spacing=font_px // 3)
    pad = font_px * 2
    tile = Image.new("RGBA", (right - left + pad, bottom - top + pad), (0, 0, 0, 0))
    ImageDraw.Draw(tile).multiline_text((pad // 2 - left, pad // 2 - top), text, font=font, fill=FILL,
                                        spacing=font_px // 3, align="center")
    tile = tile.rotate(ANGLE, expand=True, resample=Image.Resampling.BICUBIC)
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    step_x, step_y = max(1, tile.width), max(1, int(tile.height * 0.8))
    for row, y in enumerate(range(-step_y // 2, height, step_y)):
        shift = (step_x // 2) * (row % 2)
        for x in range(-step_x + shift, width, step_x):
            layer.alpha_composite(tile, (max(x, 0), max(y, 0)), (max(-x, 0), max(-y, 0)))
    return layer


def _mark_frame(frame: Image.Image, lines: list[str]) -> Image.Image:
    """One marked frame, in a mode its format can store (L for grey/bilevel, RGB(A) otherwise)."""
    has_alpha = frame.mode in {"RGBA", "LA", "PA"} or (frame.mode == "P" and "transparency" in frame.info)
    grey = frame.mode in {"1", "L", "LA", "I", "I;16", "F"}
    base = frame.convert("RGBA")
    marked = Image.alpha_composite(base, _overlay(base.size, lines))
    if has_alpha:
        return marked if not grey else marked.convert("LA")
    return marked.convert("L" if grey else "RGB")


def _read(source: bytes | BinaryIO) -> Image.Image:
    data = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    try:
        image = Image.open(data)
        image.load()
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise WatermarkError(f"unreadable image: {exc}") from exc
    return image


def watermark_image(source: bytes | BinaryIO, lines: list[str]) -> bytes:
    """A JPEG, PNG or TIFF (every frame) with the lines repeated across it; same format and pixel size."""
    image = _read(source)
    fmt = image.format or "PNG"
    out = io.BytesIO()
    keep = {k: image.info[k] for k in ("dpi", "icc_profile", "exif") if image.info.get(k)}
    try:
        if fmt == "TIFF":
            frames = [_mark_frame(f.copy(), lines) for f in ImageSequence.Iterator(image)]
            keep.pop("exif", None)
            frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:],
                           compression="tiff_deflate", **keep)
        elif fmt == "JPEG":
            marked = _mark_frame(image, lines)
            if marked.mode not in {"RGB", "L"}:
                marked = marked.convert("RGB")
            marked.save(out, format="JPEG", quality=90, **keep)
        else:
            _mark_frame(image, lines).save(out, format="PNG", **keep)
    except (OSError, ValueError) as exc:
        raise WatermarkError(f"could not write the marked image: {exc}") from exc
    return out.getvalue()


# ---------------------------------------------------------------------------------------------- PDF


def pdf_overlay(width: float, height: float, lines: list[str]) -> bytes:
    """A one-page PDF of ``width`` × ``height`` points covered with the turned, repeated lines."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfgen import canvas

    from archive_app.printing.fonts import cjk_font

    font = cjk_font()
    size = max(8.0, min(width, height) / 30)
    leading = size * 1.3
    text_w = max(pdfmetrics.stringWidth(line, font, size) for line in lines) if lines else size
    block_w, block_h = text_w + size * 3, leading * len(lines) + size * 3
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(width, height), pageCompression=1, initialFontName=font)
    c.setFillColorRGB(0.6, 0.08, 0.08)
    c.setFillAlpha(PDF_ALPHA)
    c.setFont(font, size)
    c.translate(width / 2, height / 2)
    c.rotate(ANGLE)
    reach = math.hypot(width, height) / 2 + max(block_w, block_h)
    rows = int(reach // block_h) + 1
    cols = int(reach // block_w) + 1
    for row in range(-rows, rows + 1):
        shift = block_w / 2 if row % 2 else 0
        for col in range(-cols, cols + 1):
            x = col * block_w + shift
            y = row * block_h
            for i, line in enumerate(lines):
                c.drawCentredString(x, y - i * leading, line)
    c.showPage()
    c.save()
    return buf.getvalue()


def _spool(source: BinaryIO, tmp_dir: str | None) -> BinaryIO:
    """A seekable copy of a (possibly unseekable) stream, on disk."""
    spool = tempfile.TemporaryFile(dir=tmp_dir)  # noqa: SIM115 - returned open, closed by the caller
    shutil.copyfileobj(source, spool, CHUNK)
    spool.seek(0)
    return spool


def watermark_pdf(source: BinaryIO, lines: list[str], tmp_dir: str | None = None) -> BinaryIO:
    """The PDF with the overlay merged on top of every page, as an open temporary file at offset 0.

    The page count stays the same. The file is anonymous: it disappears when it is closed.
    """
    from pypdf import PdfReader, PdfWriter, Transformation
    from pypdf.errors import PyPdfError

    spool = _spool(source, tmp_dir)
    out = tempfile.TemporaryFile(dir=tmp_dir)  # noqa: SIM115 - returned open, streamed then closed
    try:
        reader = PdfReader(spool)
        writer = PdfWriter(clone_from=reader)
        overlays: dict[tuple[float, float], object] = {}
        for page in writer.pages:
            box = page.mediabox
            key = (round(float(box.width), 2), round(float(box.height), 2))
            if key not in overlays:
                overlays[key] = PdfReader(io.BytesIO(pdf_overlay(key[0], key[1], lines))).pages[0]
            if float(box.left) or float(box.bottom):
                page.merge_transformed_page(overlays[key], Transformation().translate(float(box.left),
                                                                                      float(box.bottom)))
            else:
                page.merge_page(overlays[key])
        writer.write(out)
    except (PyPdfError, OSError, ValueError, KeyError, TypeError) as exc:
        out.close()
        raise WatermarkError(f"could not mark the PDF: {exc}") from exc
    finally:
        spool.close()
    out.seek(0)
    return out


def watermark_file(source: BinaryIO, mime: str, lines: list[str], tmp_dir: str | None = None) -> BinaryIO:
    """A marked copy of a stored file by its MIME type, as an open stream at offset 0.

    PDFs become a temporary file; JPEG, PNG and TIFF (each frame marked, still a TIFF) are
    marked in memory, the way Pillow decodes them anyway.
    """
    if mime == "application/pdf":
        return watermark_pdf(source, lines, tmp_dir)
    if mime in {"image/jpeg", "image/png", "image/tiff"}:
        return io.BytesIO(watermark_image(source, lines))
    raise WatermarkError(f"no watermark for {mime}")


def stream_size(stream: BinaryIO) -> int:
    """The length of a seekable stream, leaving it at offset 0."""
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    return size
