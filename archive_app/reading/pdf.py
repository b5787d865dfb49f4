"""PDF pages with pypdfium2: text layer and rendering, with limits against hostile files.

Measured on this machine (pdfium via pypdfium2 5.15):

* ``hugemono.pdf`` (one 8400 x 8400 pt page holding a 35000 x 35000 1-bit image): pdfium decodes
  the image while scaling it down, so cost follows the *output* size: 10 dpi 0.7 s / 62 MB,
  54 dpi (40 Mpx) 2.1 s / 343 MB, 100 dpi (136 Mpx) 5 s / 930 MB. With the pixel budget below it is
  rendered in about 2 s and 350 MB, so we render it rather than refuse it.
* ``enormous.pdf`` (2160 x 2160 pt page, 9000 x 9000 image): 150 dpi is 20 Mpx, 0.4 s / 200 MB.

So the defence is (1) a pixel budget for the rendered page (the dpi is lowered for huge pages),
and (2) before rendering, a check with pypdf of every image XObject's declared size: an image
whose decoded size exceeds ``MAX_IMAGE_BYTES`` is refused (pdfium must still decode it line by
line, which is where time goes). No pdfium/pypdf exception leaves this module as anything but
ExtractionError.
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from archive_app.i18n import _
from archive_app.reading.errors import CORRUPT_FILE, ENCRYPTED_PDF, NO_SUCH_PAGE, TOO_LARGE_TO_RENDER, ExtractionError

DEFAULT_DPI = 200
MAX_RENDER_PIXELS = 40_000_000  # one rendered page (RGB: 120 MB)
MIN_DPI = 10  # below this a page is too big to read anything: refuse
MAX_IMAGE_BYTES = 1 << 30  # decoded size of one embedded image
MAX_PAGES = 5000

# pdfium's FPDF_GetLastError codes
_ERR_PASSWORD = 4
_ERR_SECURITY = 5


@dataclass
class PdfDoc:
    """An open PDF; use as a context manager or call close()."""

    path: str
    doc: pdfium.PdfDocument

    def __len__(self) -> int:
        return len(self.doc)

    def close(self) -> None:
        self.doc.close()

    def __enter__(self) -> "PdfDoc":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_pdf(path: str) -> PdfDoc:
    """Open a PDF (no password). Raises ExtractionError encrypted_pdf / corrupt_file."""
    try:
        doc = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        if exc.err_code in (_ERR_PASSWORD, _ERR_SECURITY):
            raise ExtractionError(ENCRYPTED_PDF, detail=str(exc)) from exc
        raise ExtractionError(CORRUPT_FILE, detail=str(exc)) from exc
    except (OSError, ValueError) as exc:
        raise ExtractionError(CORRUPT_FILE, detail=str(exc)) from exc
    n = len(doc)
    if n > MAX_PAGES:
        doc.close()
        raise ExtractionError(TOO_LARGE_TO_RENDER, _("PDF 页数过多（%(n)s 页，上限 %(max_pages)s 页）。", n=n, max_pages=MAX_PAGES))
    return PdfDoc(path=path, doc=doc)


def page_count(path: str) -> int:
    with open_pdf(path) as d:
        return len(d)


def _page(d: PdfDoc, i: int):
    if not 0 <= i < len(d):
        raise ExtractionError(NO_SUCH_PAGE, detail=f"page index {i} of {len(d)}")
    try:
        return d.doc[i]
    except pdfium.PdfiumError as exc:
        raise ExtractionError(CORRUPT_FILE, detail=f"page {i + 1}: {exc}") from exc


def page_text(d: PdfDoc, i: int) -> str:
    """The text layer of page ``i`` (0-based), as pdfium extracts it ('' if none)."""
    page = _page(d, i)
    try:
        tp = page.get_textpage()
        try:
            return tp.get_text_bounded() or ""
        finally:
            tp.close()
    except pdfium.PdfiumError:
        return ""
    finally:
        page.close()


def image_share(d: PdfDoc, i: int) -> float:
    """Share of page ``i``'s area covered by its images (0..1; overlaps counted once per image, capped)."""
    page = _page(d, i)
    try:
        w, h = page.get_size()
        if not (w > 0 and h > 0):
            return 0.0
        covered = 0.0
        for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,)):
            left, bottom, right, top = obj.get_bounds()
            cw = max(0.0, min(right, w) - max(left, 0.0))
            ch = max(0.0, min(top, h) - max(bottom, 0.0))
            covered += cw * ch
        return min(1.0, covered / (w * h))
    except pdfium.PdfiumError:
        return 0.0
    finally:
        page.close()


def _check_images(path: str, i: int) -> None:
    """Refuse pages whose image XObjects (also inside form XObjects) decode to more than MAX_IMAGE_BYTES."""
    import pypdf
    from pypdf.errors import PyPdfError

    try:
        # From an open file, which pypdf reads where it needs to: given a path it reads the whole file
        # into memory, for every page (a 34 MB scan held ~35 MB more a page until the garbage
        # collector's next full pass: a worker reading a 30-page scan peaked at 734 MB).
        with open(path, "rb") as fh:
            reader = pypdf.PdfReader(fh, strict=False)
            page = reader.pages[i]
            stack = [(page.get("/Resources"), 0)]
            seen: set[int] = set()
            while stack:
                res, depth = stack.pop()
                if res is None or depth > 8:
                    continue
                res = res.get_object()
                xobjs = res.get("/XObject") if hasattr(res, "get") else None
                if xobjs is None:
                    continue
                for ref in xobjs.get_object().values():
                    key = getattr(ref, "idnum", None)
                    if key is not None:
                        if key in seen:
                            continue
                        seen.add(key)
                    x = ref.get_object()
                    if not hasattr(x, "get"):
                        continue
                    sub = x.get("/Subtype")
                    if sub == "/Image":
                        w, h = int(x.get("/Width", 0) or 0), int(x.get("/Height", 0) or 0)
                        bpc = int(x.get("/BitsPerComponent", 8) or 8)
                        nbytes = w * h * max(bpc, 1) * 4 / 8  # at most 4 components
                        if x.get("/ImageMask"):
                            nbytes = w * h / 8
                        if nbytes > MAX_IMAGE_BYTES:
                            raise ExtractionError(
                                TOO_LARGE_TO_RENDER,
                                _("第 %(value)s 页含有尺寸过大的图像（%(w)s×%(h)s 像素），为防止耗尽服务器资源已拒绝处理。", value=i + 1, w=w, h=h),
                                detail=f"image {w}x{h} bpc={bpc}",
                            )
                    elif sub == "/Form":
                        stack.append((x.get("/Resources"), depth + 1))
    except ExtractionError:
        raise
    except (PyPdfError, ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError, OSError):
        # pypdf cannot read what pdfium could: leave the judgement to pdfium and the pixel budget.
        return


def render_dpi(width_pt: float, height_pt: float, dpi: float, max_pixels: int = MAX_RENDER_PIXELS) -> float:
    """The dpi to render a page of this size at: ``dpi``, lowered to stay within ``max_pixels``."""
    px = (width_pt / 72 * dpi) * (height_pt / 72 * dpi)
    if px > max_pixels:
        dpi = dpi * math.sqrt(max_pixels / px) * 0.999  # margin for rounding up to whole pixels
    return dpi


def render_page(d: PdfDoc, i: int, dpi: float = DEFAULT_DPI, *, max_pixels: int = MAX_RENDER_PIXELS,
                grayscale: bool = False, min_dpi: float = MIN_DPI) -> Image.Image:
    """Render page ``i`` (0-based, /Rotate applied) as an RGB (or L) PIL image within ``max_pixels``."""
    with _rendered(d, i, dpi, max_pixels=max_pixels, grayscale=grayscale, min_dpi=min_dpi) as bitmap:
        img = bitmap.to_pil()
        img.load()
        return img.copy()


def render_bgr(d: PdfDoc, i: int, dpi: float = DEFAULT_DPI, *, max_pixels: int = MAX_RENDER_PIXELS) -> np.ndarray:
    """Render page ``i`` like ``render_page``, as an H x W x 3 uint8 BGR array, pdfium's own order: what
    OCR reads, with one copy of the page in memory instead of three (an A4 page at 300 dpi is 26 MB)."""
    with _rendered(d, i, dpi, max_pixels=max_pixels) as bitmap:
        return np.array(bitmap.to_numpy()[:, :, :3], dtype=np.uint8, order="C")


@contextlib.contextmanager
def _rendered(d: PdfDoc, i: int, dpi: float, *, max_pixels: int, grayscale: bool = False,
              min_dpi: float = MIN_DPI) -> Iterator[Any]:
    """pdfium's bitmap of page ``i`` at ``dpi`` (lowered to ``max_pixels``), closed on leaving."""
    page = _page(d, i)
    try:
        w, h = page.get_size()
        if not (w > 0 and h > 0 and math.isfinite(w) and math.isfinite(h)):
            raise ExtractionError(CORRUPT_FILE, detail=f"page {i + 1} size {w}x{h}")
        dpi = render_dpi(w, h, dpi, max_pixels)
        if dpi < min_dpi:
            raise ExtractionError(
                TOO_LARGE_TO_RENDER,
                _("第 %(value)s 页尺寸过大（%(value2)s×%(value3)s 厘米），无法渲染。", value=i + 1, value2=f'{w / 72 * 2.54:.0f}', value3=f'{h / 72 * 2.54:.0f}'),
            )
        _check_images(d.path, i)
        bitmap = page.render(scale=dpi / 72, grayscale=grayscale)
        try:
            yield bitmap
        finally:
            bitmap.close()
    except ExtractionError:
        raise
    except (pdfium.PdfiumError, ValueError, MemoryError, OSError) as exc:
        raise ExtractionError(CORRUPT_FILE, detail=f"page {i + 1}: {type(exc).__name__}: {exc}") from exc
    finally:
        page.close()
