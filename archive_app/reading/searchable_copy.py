"""Searchable copies: a PDF of a scanned file with an invisible text layer over each OCR'd page.

The copy is what Paperless-ngx/OCRmyPDF users know as the archival copy: it looks like the scan,
and its text can be selected and searched. Borrowers' downloads are watermarked from it; the
stored original is never changed and stays what keepers download as the original.

Made with permissive libraries only: reportlab (BSD) draws the text (and places images), pypdf
(BSD) lays the text pages over the original PDF's pages. The text is drawn in the embedded CJK font
(``printing.fonts``, Noto Sans CJK SC as TrueType; reportlab embeds only the glyphs used, so a page
adds a few kilobytes, and it is extracted as Unicode, Latin included) in render mode 3 (invisible),
each line stretched horizontally to its box, so a selection covers the printed words. The copy is
PDF/A-2b-like (``printing.pdfa``: XMP declaring PDF/A-2B, an sRGB output intent, a file ID, the
date it was made); an original PDF's own content is kept as it is, so a copy of a PDF is only as
PDF/A as that original was.

How the lines get here: the pipeline hands each OCR'd page's lines over with its text (never a
second OCR pass), and the extraction job keeps them (text and 4-point box) as
a small JSON object beside the page images (``lines_key``), as the page is committed. The copy is
made once the last page is read, from those objects, so a job resumed by another worker (which
holds none of the earlier pages in memory) makes the same copy. Every object lives under the
file's ``derived/<object_key>/`` prefix and is destroyed with the record.
"""
from __future__ import annotations

import io
import json
import logging
import math
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

from PIL import Image, ImageOps, ImageSequence
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
    create_string_object,
)

from archive_app.i18n import _l
from archive_app.printing import pdfa
from archive_app.printing.fonts import cjk_font
from archive_app.reading.pdf_update import PdfUpdate
from archive_app.reading.pipeline import file_kind
from storage import BlobStore

log = logging.getLogger(__name__)

TITLE = _l("可检索副本")
DEFAULT_DPI = 300  # an image that does not say its resolution is taken for a usual scan
MIN_DPI, MAX_DPI = 50, 2400  # outside this the file's own figure is nonsense (or a screen's 72)
# Share of a line box's height taken by the font size: boxes carry some padding above and below.
FONT_FILL = 0.8

Box = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class PageLines:
    """The lines read on one page, in pixels of the page image as it was read.

    ``width`` × ``height`` is the image given to OCR (before any turn); ``rotation`` the degrees
    clockwise it was turned to read it; each box (4 corners clockwise from top-left) is in pixels
    of the turned image, as ``reading.ocr.OcrLine`` gives it.
    """

    width: int
    height: int
    rotation: int
    lines: tuple[tuple[str, Box], ...]


# ---------------------------------------------------------------------------------------------- keys


def lines_key(object_key: str, page_no: int) -> str:
    """Object key of a page's lines (JSON), beside its page images under the file's derived prefix."""
    return f"derived/{object_key}/p{page_no:04d}-lines.json"


def copy_key(object_key: str) -> str:
    """Object key of a file's searchable copy (PDF), under the file's derived prefix."""
    return f"derived/{object_key}/searchable.pdf"


def derived_prefix(object_key: str) -> str:
    """The prefix of every object derived from a file (page images, lines, the searchable copy)."""
    return f"derived/{object_key}/"


# ---------------------------------------------------------------------------------------------- lines


def from_ocr(lines: Sequence[Any], width: int, height: int, rotation: int = 0) -> PageLines:
    """PageLines from ``OcrLine``-like objects (anything with ``text`` and ``box``)."""
    kept = tuple((str(ln.text), tuple((float(x), float(y)) for x, y in ln.box))
                 for ln in lines if str(ln.text).strip() and len(ln.box) == 4)
    return PageLines(int(width), int(height), int(rotation) % 360, kept)


def to_json(page: PageLines) -> bytes:
    """The page's lines as compact JSON (boxes rounded to a tenth of a pixel)."""
    return json.dumps({"width": page.width, "height": page.height, "rotation": page.rotation,
                       "lines": [{"text": t, "box": [[round(x, 1), round(y, 1)] for x, y in b]}
                                 for t, b in page.lines]},
                      ensure_ascii=False, separators=(",", ":")).encode()


def from_json(data: bytes) -> PageLines:
    """PageLines back from ``to_json``."""
    raw = json.loads(data)
    return PageLines(int(raw["width"]), int(raw["height"]), int(raw.get("rotation", 0)),
                     tuple((str(ln["text"]), tuple((float(x), float(y)) for x, y in ln["box"]))
                           for ln in raw["lines"]))


def _image_frames(path: str) -> Iterator[Image.Image]:
    """Each frame of an image file as it is read (EXIF orientation applied); TIFF pages, else the first."""
    with Image.open(path) as img:
        frames = ImageSequence.Iterator(img) if img.format == "TIFF" else [img]
        for frame in frames:
            frame.load()
            yield ImageOps.exif_transpose(frame).copy()


def page_lines_of(path: str, mime: str, page: Any) -> PageLines | None:
    """The lines of an extracted page (``reading.PageText``); None for pages that were not OCR'd (a
    PDF's own text layer needs no copy) or that came without lines."""
    own = getattr(page, "lines", None)
    if getattr(page, "source", None) != "ocr" or own is None:
        return None
    rotation = int(getattr(page, "rotation", 0) or 0)
    # PageText sizes are upright; the lines' frame is the page as it was read.
    width, height = (page.height, page.width) if rotation in (90, 270) else (page.width, page.height)
    return from_ocr(own, width, height, rotation)


def keep_page_lines(store: BlobStore, object_key: str, page_no: int, page: PageLines) -> str:
    """Store a page's lines beside its images (replacing an earlier run's); returns the key."""
    key = lines_key(object_key, page_no)
    store.delete(key)  # keys are write-once; a rerun of the job replaces its own
    store.put(key, io.BytesIO(to_json(page)), content_type="application/json")
    return key


def stored_page_lines(store: BlobStore, object_key: str) -> dict[int, PageLines]:
    """Every page's stored lines by page number."""
    out: dict[int, PageLines] = {}
    prefix = derived_prefix(object_key)
    for key in store.keys(prefix):
        name = key[len(prefix):]
        if name.startswith("p") and name.endswith("-lines.json"):
            with store.open(key) as fh:
                out[int(name[1:5])] = from_json(fh.read())
    return out


# ---------------------------------------------------------------------------------------------- drawing


def _unturn(u: float, v: float, width: int, height: int, rotation: int) -> tuple[float, float]:
    """A point of the image turned ``rotation`` degrees clockwise, back in the image as read."""
    if rotation == 90:
        return v, height - u
    if rotation == 180:
        return width - u, height - v
    if rotation == 270:
        return width - v, u
    return u, v


def draw_text_layer(canvas: Any, page: PageLines, page_w: float, page_h: float) -> int:
    """Draw the page's lines invisibly on a reportlab canvas of ``page_w`` × ``page_h`` points whose
    area is the page image; returns the number of lines drawn."""
    from reportlab.pdfbase import pdfmetrics

    font = cjk_font()
    kx, ky = page_w / max(page.width, 1), page_h / max(page.height, 1)
    drawn = 0
    for text, box in page.lines:
        pts = []
        for u, v in box:
            x, y = _unturn(u, v, page.width, page.height, page.rotation)
            pts.append((x * kx, page_h - y * ky))  # PDF's y grows upwards
        (x0, y0), (x1, y1), _, (x3, y3) = pts
        length, thick = math.hypot(x1 - x0, y1 - y0), math.hypot(x3 - x0, y3 - y0)
        if length < 0.5 or thick < 0.5:
            continue
        size = thick * FONT_FILL
        natural = pdfmetrics.stringWidth(text, font, size)
        if natural <= 0:
            continue
        canvas.saveState()
        canvas.translate(x3, y3)  # bottom-left corner of the line's box
        canvas.rotate(math.degrees(math.atan2(y1 - y0, x1 - x0)))
        t = canvas.beginText()
        t.setTextRenderMode(3)  # neither filled nor stroked: invisible, still selectable
        t.setFont(font, size)
        t.setHorizScale(100.0 * length / natural)
        t.setTextOrigin(0, thick * (1 - FONT_FILL) / 2 + size * 0.12)  # lift the baseline over descenders
        t.textOut(text)
        canvas.drawText(t)
        canvas.restoreState()
        drawn += 1
    return drawn


def _canvas(out: Any, **kwargs: Any) -> Any:
    from reportlab.pdfgen import canvas as rl_canvas

    # Pages start in the embedded font: reportlab's default Helvetica would be named, not embedded.
    return rl_canvas.Canvas(out, pageCompression=1, invariant=1, initialFontName=cjk_font(), **kwargs)


def text_pages(sizes: Sequence[tuple[PageLines, float, float]]) -> bytes:
    """A PDF with one page per (lines, width, height) in points, holding only that page's invisible
    text. One document for all of them, so the font's glyphs are embedded once, not once a page."""
    buf = io.BytesIO()
    c = _canvas(buf)
    for page, page_w, page_h in sizes:
        c.setPageSize((page_w, page_h))
        draw_text_layer(c, page, page_w, page_h)
        c.showPage()
    c.save()
    return buf.getvalue()


def text_page(page: PageLines, page_w: float, page_h: float) -> bytes:
    """A one-page PDF of ``page_w`` × ``page_h`` points holding only the page's invisible text."""
    return text_pages([(page, page_w, page_h)])


# ---------------------------------------------------------------------------------------------- copies


def _dpi(frame: Image.Image) -> tuple[float, float]:
    raw = frame.info.get("dpi")
    try:
        dx, dy = (float(raw[0]), float(raw[1])) if raw else (0.0, 0.0)
    except (TypeError, ValueError, IndexError):
        dx = dy = 0.0
    ok = MIN_DPI <= dx <= MAX_DPI and MIN_DPI <= dy <= MAX_DPI
    return (dx, dy) if ok else (DEFAULT_DPI, DEFAULT_DPI)


def _image_copy(path: str, pages: Mapping[int, PageLines], out: BinaryIO) -> None:
    """One PDF page per frame: the frame at its own resolution, its lines over it."""
    from reportlab.lib.utils import ImageReader

    c = _canvas(out)
    with Image.open(path) as probe:
        # A plain JPEG goes in as it is stored (no re-encoding); one EXIF-turned is drawn as read.
        as_stored = probe.format == "JPEG" and probe.mode in ("RGB", "L") \
            and probe.getexif().get(0x0112, 1) == 1
    for page_no, frame in enumerate(_image_frames(path), start=1):
        dx, dy = _dpi(frame)
        w, h = frame.width * 72 / dx, frame.height * 72 / dy
        c.setPageSize((w, h))
        if frame.mode not in ("RGB", "L", "1"):
            frame = frame.convert("RGB")
        c.drawImage(ImageReader(path if as_stored else frame), 0, 0, w, h)
        if page_no in pages:
            draw_text_layer(c, pages[page_no], w, h)
        c.showPage()
        frame.close()
    c.save()


def _pdf_copy(path: str, pages: Mapping[int, PageLines], out: BinaryIO, now: datetime | None) -> None:
    """The original PDF, its bytes unchanged, with an incremental update (``pdf_update``) that lays a
    text-only form over each OCR'd page and makes the file PDF/A-like: nothing is re-rendered, and
    memory does not grow with the file (a scan's images are never read)."""
    with open(path, "rb") as fh:
        reader = PdfReader(fh)
        update = PdfUpdate(reader)
        placed = []
        for page_no, page in enumerate(reader.pages, start=1):
            if page_no in pages:
                box = page.cropbox  # what pdfium rendered for OCR, before the page's turn
                turn = page.rotation % 360
                shown = (float(box.height), float(box.width)) if turn in (90, 270) else (float(box.width), float(box.height))
                placed.append((page, pages[page_no], box, turn, shown))
        if placed:
            overlays = PdfReader(io.BytesIO(text_pages([(lines, *shown) for _, lines, _, _, shown in placed])))
            begin = update.add(_content(b"q\n"))
            for (page, _, box, turn, shown), overlay in zip(placed, overlays.pages):
                _lay_over(update, page, overlay, begin, box, turn, shown)
        root_ref = reader.trailer.raw_get("/Root")
        root = _raw_copy(root_ref)
        entries, ids = pdfa.add_archival(root, update.add, title=str(TITLE), subject=str(TITLE),
                                         created=now or datetime.now(UTC), seed=_seed(pages))
        update.replace(root_ref, root)
        original_info = reader.trailer.get("/Info")
        info = _raw_copy(original_info) if original_info is not None else DictionaryObject()
        for key in pdfa.NOT_IN_XMP:
            info.pop(key, None)
        info.update({NameObject(k): create_string_object(v) for k, v in entries.items()})
        update.write(fh, out, {"/Root": root_ref, "/Info": update.add(info), "/ID": ids})


def _lay_over(update: Any, page: Any, overlay: Any, begin: Any, box: Any, turn: int, shown: tuple[float, float]) -> None:
    """Replace ``page`` in the update by itself plus the ``overlay`` page drawn over it as a form, placed
    on the page as it is shown (its /Rotate kept: the lines were read on the turned rendering)."""
    form = _content(_page_data(overlay))
    form.update({NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Form"),
                 NameObject("/BBox"): ArrayObject([FloatObject(0), FloatObject(0), FloatObject(shown[0]), FloatObject(shown[1])]),
                 NameObject("/Resources"): update.copy_in(overlay.raw_get("/Resources"))})
    form_ref = update.add(form)
    resources = _raw_copy(page["/Resources"]) if "/Resources" in page else DictionaryObject()
    xobjects = _raw_copy(resources["/XObject"]) if "/XObject" in resources else DictionaryObject()
    name, k = NameObject("/OCRText"), 1
    while name in xobjects:
        name, k = NameObject(f"/OCRText{k}"), k + 1
    xobjects[name] = form_ref
    resources[NameObject("/XObject")] = xobjects
    x0, y0, w, h = float(box.left), float(box.bottom), float(box.width), float(box.height)
    # The form's space is the page as shown; the matrix takes it back to the page's own space.
    matrix = {0: (1, 0, 0, 1, x0, y0), 90: (0, 1, -1, 0, x0 + w, y0), 180: (-1, 0, 0, -1, x0 + w, y0 + h),
              270: (0, -1, 1, 0, x0, y0 + h)}[turn]
    end = update.add(_content(("\nQ\nq " + " ".join(f"{v:g}" for v in matrix) + f" cm {name} Do Q\n").encode()))
    contents = page.raw_get("/Contents") if "/Contents" in page else None
    if isinstance(contents, IndirectObject) and isinstance(contents.get_object(), ArrayObject):
        contents = contents.get_object()
    original = list(contents) if isinstance(contents, ArrayObject) else [contents] if contents is not None else []
    new = _raw_copy(page)
    new[NameObject("/Contents")] = ArrayObject([begin, *original, end])
    new[NameObject("/Resources")] = resources
    update.replace(page.indirect_reference, new)


def _page_data(page: Any) -> bytes:
    """A page's content, decoded, as one stream's data."""
    contents = page.get("/Contents")
    if contents is None:
        return b""
    parts = contents if isinstance(contents, ArrayObject) else [contents]
    return b"\n".join(part.get_object().get_data() for part in parts)


def _content(data: bytes) -> Any:
    stream = DecodedStreamObject()
    stream.set_data(data)
    return stream.flate_encode() if len(data) > 64 else stream


def _raw_copy(obj: Any) -> Any:
    """A new dictionary with ``obj``'s entries as stored (references stay references, so nothing they
    point to is read)."""
    obj = obj.get_object()
    return DictionaryObject({k: obj.raw_get(k) for k in obj})


def _seed(pages: Mapping[int, PageLines]) -> bytes:
    return "\n".join(t for p in pages.values() for t, _ in p.lines).encode()


def make_copy(path: str, mime: str, pages: Mapping[int, PageLines], out: BinaryIO, *,
              now: datetime | None = None) -> None:
    """Write the searchable copy of the file at ``path`` to ``out``: a PDF keeps its pages with the
    text laid over the OCR'd ones; an image (JPEG, PNG, TIFF with every page) becomes a PDF page per
    frame, the frame at its resolution (300 dpi if it does not say) with its text over it.

    Either way the copy gets the PDF/A-2b metadata, output intent and ID, dated ``now``.
    """
    if file_kind(mime) == "pdf":
        _pdf_copy(path, pages, out, now)
        return
    writer = PdfWriter()
    with tempfile.TemporaryFile() as drawn:
        _image_copy(path, pages, drawn)
        drawn.seek(0)
        writer.clone_document_from_reader(PdfReader(drawn))
        pdfa.make_archival(writer, title=str(TITLE), subject=str(TITLE), created=now or datetime.now(UTC),
                           seed=_seed(pages))
        writer.write(out)


def store_copy(store: BlobStore, path: str, mime: str, object_key: str, workdir: str | None = None, *,
               now: datetime | None = None) -> str | None:
    """Make and store the file's searchable copy from its stored page lines; its key, or None when no
    page was OCR'd. Replaces an earlier run's copy. StorageError propagates (the caller retries)."""
    pages = stored_page_lines(store, object_key)
    if not any(p.lines for p in pages.values()):
        return None
    key = copy_key(object_key)
    with tempfile.TemporaryFile(dir=workdir) as spool:
        make_copy(path, mime, pages, spool, now=now)
        spool.seek(0)
        store.delete(key)  # keys are write-once; a rerun replaces its own copy
        store.put(key, spool, content_type="application/pdf")
    return key
