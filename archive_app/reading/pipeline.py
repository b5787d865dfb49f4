"""Per-page text of an uploaded file: the PDF text layer where it has one, else OCR of the page image.

Also page images (thumbnails, the page viewer) from the same rendering code. Everything that goes
wrong with a file comes out as ExtractionError(code, message_zh); nothing else escapes ``extract``,
``render_thumbnail`` or ``render_page_image`` (except programming errors like a bad argument type).
"""
from __future__ import annotations

import io
import unicodedata
import warnings
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from archive_app.i18n import _
from archive_app.intake.filetypes import MAX_FRAMES, MAX_IMAGE_PIXELS  # the limits uploads were checked against
from archive_app.reading import pdf as pdfmod
from archive_app.reading.errors import (
    CORRUPT_FILE,
    NO_SUCH_PAGE,
    OCR_FAILED,
    TOO_LARGE_TO_RENDER,
    UNSUPPORTED_TYPE,
    ExtractionError,
)
from archive_app.reading.ocr import OcrPage, ocr_bgr, ocr_image
from archive_app.reading.text import clean_ocr_text

PDF_MIMES = {"application/pdf", "application/x-pdf"}
IMAGE_MIMES = {"image/jpeg", "image/jpg", "image/pjpeg", "image/png", "image/tiff", "image/x-tiff"}

OCR_DPI = 300  # scans are usually 200-300 dpi; rendering higher only adds cost
MIN_TEXT_CHARS = 20  # a text layer with fewer meaningful characters is treated as absent
MIN_TEXT_QUALITY = 0.6  # share of letters/digits/CJK among non-space characters
# A text layer is thin, and the page's images are read too, when it has fewer letters/digits than this
# times the share of the page its images cover (a full-page scan: 200), and images cover at least
# THIN_LAYER_MIN_IMAGE_SHARE of the page. A scan whose only text layer is a one-line watermark
# ("Evaluation version", ~40 characters) was taken as a text page and its image never read; a
# scanned page whose OCR layer is real holds hundreds of characters. Pages a little over the line
# lose nothing but the second reading's time.
THIN_LAYER_CHARS = 200
THIN_LAYER_MIN_IMAGE_SHARE = 0.3

Source = Literal["text", "ocr", "none"]


@dataclass(frozen=True)
class PageText:
    page_no: int  # 1-based
    text: str
    source: Source  # "text": PDF text layer; "ocr": recognised; "none": nothing readable
    confidence: float | None  # OCR mean character confidence; None for a text layer
    width: int  # page size in pixels (as rendered for OCR; for text-layer pages at OCR_DPI)
    height: int
    # The OCR'd lines with their boxes (upright page pixels) and the turn that made the page upright:
    # the searchable copy lays them over the page without reading it a second time.
    lines: tuple | None = None
    rotation: int = 0


def file_kind(mime: str) -> str:
    """``pdf`` or ``image`` for a MIME type extraction reads; ExtractionError otherwise."""
    m = (mime or "").split(";")[0].strip().lower()
    if m in PDF_MIMES:
        return "pdf"
    if m in IMAGE_MIMES:
        return "image"
    raise ExtractionError(UNSUPPORTED_TYPE, detail=f"mime {mime!r}")


# ---------------------------------------------------------------- text layer


def meaningful_text(text: str) -> str:
    """The text layer cleaned, or '' when it is too short or mostly garbage (unmapped glyphs)."""
    t = clean_ocr_text(text.replace("\x00", ""))
    chars = [c for c in t if not c.isspace()]
    if len(chars) < MIN_TEXT_CHARS:
        return ""
    good = sum(1 for c in chars if unicodedata.category(c)[0] in "LN")
    if good < MIN_TEXT_CHARS or good / len(chars) < MIN_TEXT_QUALITY:
        return ""
    return t


# ---------------------------------------------------------------- images


def _open_image(path: str) -> Image.Image:
    try:
        img = Image.open(path)
    except UnidentifiedImageError as exc:
        raise ExtractionError(CORRUPT_FILE, detail=str(exc)) from exc
    except Image.DecompressionBombError as exc:
        raise ExtractionError(TOO_LARGE_TO_RENDER, detail=str(exc)) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ExtractionError(CORRUPT_FILE, detail=str(exc)) from exc
    return img


def _check_size(img: Image.Image, page_no: int) -> None:
    w, h = img.size
    if w <= 0 or h <= 0:
        raise ExtractionError(CORRUPT_FILE, detail=f"frame {page_no} size {w}x{h}")
    if w * h > MAX_IMAGE_PIXELS:
        raise ExtractionError(
            TOO_LARGE_TO_RENDER,
            _("第 %(page_no)s 页图像尺寸过大（%(w)s×%(h)s 像素），为防止耗尽服务器资源已拒绝处理。", page_no=page_no, w=w, h=h),
            detail=f"{w}x{h}",
        )


def _load_frame(frame: Image.Image, page_no: int, draft_side: int | None = None) -> Image.Image:
    """Decode one frame (size-checked first), EXIF orientation applied."""
    _check_size(frame, page_no)
    try:
        with warnings.catch_warnings():
            # Sizes between PIL's warning limit (89 Mpx) and ours are allowed on purpose.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            if draft_side and frame.format == "JPEG":
                frame.draft("RGB", (draft_side, draft_side))
            frame.load()
            out = ImageOps.exif_transpose(frame)
            out.load()
            return out
    except Image.DecompressionBombError as exc:
        raise ExtractionError(TOO_LARGE_TO_RENDER, detail=str(exc)) from exc
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError, ZeroDivisionError) as exc:
        raise ExtractionError(CORRUPT_FILE, detail=f"frame {page_no}: {type(exc).__name__}: {exc}") from exc


def _image_frames(path: str, draft_side: int | None = None) -> tuple[int, Iterator[Image.Image]]:
    img = _open_image(path)
    try:
        n = int(getattr(img, "n_frames", 1) or 1)
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ExtractionError(CORRUPT_FILE, detail=str(exc)) from exc
    if n > MAX_FRAMES:
        raise ExtractionError(TOO_LARGE_TO_RENDER, _("图像文件页数过多（%(n)s 页）。", n=n))
    if img.format != "TIFF":
        n = 1  # animated PNG/MPO: the first frame is the picture

    def gen() -> Iterator[Image.Image]:
        try:
            if n == 1:
                yield _load_frame(img, 1, draft_side)
                return
            try:
                for k, frame in enumerate(ImageSequence.Iterator(img), start=1):
                    if k > n:
                        break
                    yield _load_frame(frame, k, draft_side).copy()
            except (OSError, ValueError, SyntaxError, EOFError) as exc:
                raise ExtractionError(CORRUPT_FILE, detail=str(exc)) from exc
        finally:
            img.close()

    return n, gen()


def _image_frame(path: str, page_no: int, draft_side: int | None = None) -> Image.Image:
    n, frames = _image_frames(path, draft_side)
    if not 1 <= page_no <= n:
        frames.close()
        raise ExtractionError(NO_SUCH_PAGE, detail=f"page {page_no} of {n}")
    try:
        for k, frame in enumerate(frames, start=1):
            if k == page_no:
                return frame
    finally:
        frames.close()
    raise ExtractionError(NO_SUCH_PAGE, detail=f"page {page_no} of {n}")


# ---------------------------------------------------------------- extract


def _ocr_page(img: Image.Image, page_no: int) -> PageText:
    return _read_page(ocr_image(img), *img.size, page_no)


def _read_page(res: OcrPage, w: int, h: int, page_no: int) -> PageText:
    if res.rotation in (90, 270):
        w, h = h, w
    if not res.text:
        return PageText(page_no, "", "none", None, w, h)
    return PageText(page_no, res.text, "ocr", round(res.mean_confidence, 4), w, h, tuple(res.lines), res.rotation)


def extract(path: str, mime: str, *, on_page: Callable[[int, int], None] | None = None) -> list[PageText]:
    """Text of every page of the file at ``path`` (interpreted by ``mime``, not by its extension).

    ``on_page(done, total)`` is called after each page. Raises ExtractionError for files that
    cannot be processed (the whole file: a job should fail with ``err.code``/``err.message_zh``).
    """
    pages: list[PageText] = []
    for page_no, total, page in iter_pages(path, mime):
        pages.append(page)
        if on_page:
            on_page(page_no, total)
    return pages


def iter_pages(path: str, mime: str, *, skip: Container[int] = ()) -> Iterator[tuple[int, int, PageText | None]]:
    """``(page_no, total, text)`` for each page in order, read one at a time so a job can store each
    page as soon as it is read; pages in ``skip`` (already stored by an earlier run) are not read and
    come as ``None``. Raises ExtractionError like ``extract``."""
    kind = file_kind(mime)
    try:
        if kind == "pdf":
            total = pdfmod.page_count(path)
            for i in range(total):
                if i + 1 in skip:
                    yield i + 1, total, None
                    continue
                # Opened anew for each page: an open document keeps the image data of every page it has
                # rendered (a 300 dpi scan: ~1.1 MB a page, the whole file by its last page).
                with pdfmod.open_pdf(path) as doc:
                    page = _pdf_page(doc, i)
                yield i + 1, total, page
        else:
            total, frames = _image_frames(path)
            try:
                for k, frame in enumerate(frames, start=1):
                    yield k, total, None if k in skip else _ocr_page(frame, k)
            finally:
                frames.close()
    except ExtractionError:
        raise
    except MemoryError as exc:
        raise ExtractionError(TOO_LARGE_TO_RENDER, detail="MemoryError") from exc
    except Exception as exc:  # pdfium/PIL/onnx surprises: the file fails, the worker lives
        raise ExtractionError(OCR_FAILED if kind == "image" else CORRUPT_FILE,
                              detail=f"{type(exc).__name__}: {exc}") from exc


def thin_layer(text: str, image_share: float) -> bool:
    """Whether a (meaningful) text layer is too thin for a page whose images cover ``image_share``."""
    if image_share < THIN_LAYER_MIN_IMAGE_SHARE:
        return False
    good = sum(1 for c in text if unicodedata.category(c)[0] in "LN")
    return good < THIN_LAYER_CHARS * image_share


def _pdf_page(doc, i: int) -> PageText:
    text = meaningful_text(pdfmod.page_text(doc, i))
    if not text or thin_layer(text, pdfmod.image_share(doc, i)):
        bgr = pdfmod.render_bgr(doc, i, OCR_DPI)
        page = _read_page(ocr_bgr(bgr), bgr.shape[1], bgr.shape[0], i + 1)
        if not text:
            return page
        # Both readings are kept for the index: the image's text and the layer's (a watermark, a
        # stamp's caption or a scanner's partial OCR may hold words the image reading lost).
        both = clean_ocr_text(f"{page.text}\n{text}") if page.text else text
        return PageText(i + 1, both, page.source if page.text else "text", page.confidence, page.width, page.height,
                        page.lines, page.rotation)
    wpt, hpt = doc.doc.get_page_size(i)
    rot = doc.doc[i].get_rotation()
    dpi = pdfmod.render_dpi(wpt, hpt, OCR_DPI)
    w, h = round(wpt / 72 * dpi), round(hpt / 72 * dpi)
    if rot in (90, 270):
        w, h = h, w
    return PageText(i + 1, text, "text", None, w, h)


# ---------------------------------------------------------------- page images


def _page_image(path: str, mime: str, page_no: int, max_side: int) -> Image.Image:
    if max_side < 16:
        raise ValueError("max_side must be >= 16")
    kind = file_kind(mime)
    try:
        if kind == "pdf":
            with pdfmod.open_pdf(path) as doc:
                if not 1 <= page_no <= len(doc):
                    raise ExtractionError(NO_SUCH_PAGE, detail=f"page {page_no} of {len(doc)}")
                wpt, hpt = doc.doc.get_page_size(page_no - 1)
                dpi = (max_side + 2) * 72 / max(wpt, hpt, 1e-6)  # a bit over, then thumbnail() to size
                # Pages too big to OCR still get a preview: the pixel budget is the real limit.
                img = pdfmod.render_page(doc, page_no - 1, dpi, min_dpi=0.01,
                                         max_pixels=min(pdfmod.MAX_RENDER_PIXELS, 4 * max_side * max_side))
        else:
            img = _image_frame(path, page_no, draft_side=max_side)
        img = _to_rgb(img)
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        return img
    except ExtractionError:
        raise
    except Exception as exc:
        raise ExtractionError(CORRUPT_FILE, detail=f"{type(exc).__name__}: {exc}") from exc


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode == "RGB":
        return img
    from archive_app.reading.ocr import to_rgb_array

    return Image.fromarray(to_rgb_array(img), "RGB")


def _jpeg(img: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def render_thumbnail(path: str, mime: str, page_no: int = 1, max_side: int = 256) -> bytes:
    """JPEG bytes of page ``page_no`` (1-based), longest side at most ``max_side`` px."""
    return _jpeg(_page_image(path, mime, page_no, max_side), 80)


def render_page_image(path: str, mime: str, page_no: int, max_side: int = 1600) -> bytes:
    """JPEG bytes of page ``page_no`` (1-based) for the page viewer, longest side at most ``max_side``."""
    return _jpeg(_page_image(path, mime, page_no, max_side), 85)


