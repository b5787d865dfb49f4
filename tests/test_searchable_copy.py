"""Searchable copies: a scanned file gets a PDF copy with its OCR text invisible over each page.

The copy's text comes back with pypdf (Chinese through the embedded font, Latin too); a borrower's
watermarked download starts from it; keepers still get the original's exact bytes; destruction
removes the copy and the stored lines with the record.
"""
from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pypdfium2 as pdfium
from PIL import Image, ImageChops
from pypdf import PdfReader, PdfWriter
from sqlalchemy import select

from archive_app.accounts.models import User
from archive_app.audit.models import AuditEntry
from archive_app.extensions import db
from archive_app.intake import records as records_svc
from archive_app.intake.models import Record, RecordFile
from archive_app.jobs import run_pending
from archive_app.reading import searchable_copy as sc

from .generated import images as gi
from .helpers import borrow, login, new_customer, upload
from .test_retention import _approved_batch, _execute, _users

CHINESE, LATIN = "客户档案管理办法", "Contract HT-2024-0012"


def _text(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


def _squashed(text: str) -> str:
    return "".join(text.split())


# ---------------------------------------------------------------------------------------------- the functions


def _lines_of(img: Image.Image, lines: list[str], size: int, margin: int = 40, spacing: float = 0.8) -> sc.PageLines:
    """The boxes gi.render_lines drew its lines in, as OCR would report them."""
    font = gi.font(size)
    step = int(size * (1 + spacing))
    out = []
    for k, line in enumerate(lines):
        top, w = margin + k * step, font.getlength(line)
        out.append((line, ((margin, top), (margin + w, top), (margin + w, top + size * 1.2), (margin, top + size * 1.2))))
    return sc.PageLines(img.width, img.height, 0, tuple(out))


def test_image_copy_has_the_picture_and_extractable_chinese_and_latin(tmp_path):
    lines = [CHINESE, LATIN]
    first = gi.render_lines(lines, 40)
    second = gi.render_lines(["第二页 Page two"], 40)
    path = tmp_path / "scan.tif"
    path.write_bytes(gi.tiff_pages([first, second]))
    out = io.BytesIO()
    pages = {1: sc.from_json(sc.to_json(_lines_of(first, lines, 40))),
             2: _lines_of(second, ["第二页 Page two"], 40)}
    sc.make_copy(str(path), "image/tiff", pages, out)
    pdf = PdfReader(io.BytesIO(out.getvalue()))
    assert len(pdf.pages) == 2
    # no dpi in the file: 300 dpi, so the page is the picture's size in inches
    assert round(float(pdf.pages[0].mediabox.width), 1) == round(first.width * 72 / 300, 1)
    assert CHINESE in pdf.pages[0].extract_text() and "HT-2024-0012" in pdf.pages[0].extract_text()
    assert "第二页" in pdf.pages[1].extract_text() and "Page two" in pdf.pages[1].extract_text()
    assert len(pdf.pages[0].images) == 1  # the scan itself is on the page
    # the text is invisible: rendered, the page is pixel for pixel the same as a copy without text
    bare = io.BytesIO()
    sc.make_copy(str(path), "image/tiff", {}, bare)
    shown, plain = (pdfium.PdfDocument(b.getvalue())[0].render(scale=300 / 72).to_pil() for b in (out, bare))
    assert shown.size == first.size and ImageChops.difference(shown, plain).getbbox() is None


def test_pdf_copy_lays_the_text_over_the_original_pages_turned_ones_too(tmp_path):
    scan = gi.render_lines([CHINESE, LATIN], 40)
    src = io.BytesIO()
    scan.save(src, format="PDF", resolution=200)
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(src.getvalue())))
    writer.add_page(writer.pages[0])
    writer.pages[1].rotate(90)  # shown turned: OCR read the turned rendering
    path = tmp_path / "scan.pdf"
    with open(path, "wb") as fh:
        writer.write(fh)
    upright = _lines_of(scan, [CHINESE, LATIN], 40)
    # The page as shown (and rendered for OCR) is the scan turned 90° clockwise; OCR turned it a further
    # 270° to read it, so its boxes are the upright ones.
    turned = sc.PageLines(scan.height, scan.width, 270, upright.lines)
    out = io.BytesIO()
    sc.make_copy(str(path), "application/pdf", {1: upright, 2: turned}, out)
    pdf = PdfReader(io.BytesIO(out.getvalue()))
    assert len(pdf.pages) == 2 and all(len(p.images) == 1 for p in pdf.pages)  # the scans, not re-rendered
    for page in pdf.pages:
        assert CHINESE in page.extract_text() and "HT-2024-0012" in page.extract_text()


def _scan_pdf(pages: list[Image.Image], *, xref_stream: bool) -> bytes:
    """A scan saved as PDF; with ``xref_stream`` its last cross-reference section is a stream, as pypdf's
    own incremental updates and most PDF 1.5+ producers write."""
    src = io.BytesIO()
    pages[0].save(src, format="PDF", resolution=200, save_all=True, append_images=pages[1:])
    if not xref_stream:
        return src.getvalue()
    writer = PdfWriter(PdfReader(io.BytesIO(src.getvalue())), incremental=True)
    writer.add_metadata({"/Title": "scan"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pdf_copy_is_the_original_s_bytes_with_an_update_after_them(tmp_path):
    """The copy appends to the original (an incremental update) instead of rewriting it: its bytes start
    with the original's, every page renders pixel for pixel as before, and the text is over it, whether
    the original ends in a cross-reference table or stream."""
    scans = [gi.render_lines([CHINESE, LATIN], 40), gi.render_lines(["第二页 Page two"], 40)]
    for xref_stream in (False, True):
        original = _scan_pdf(scans, xref_stream=xref_stream)
        assert (b"/XRef" in original[-2000:]) is xref_stream
        path = tmp_path / f"scan-{xref_stream}.pdf"
        path.write_bytes(original)
        lines = {1: _lines_of(scans[0], [CHINESE, LATIN], 40), 2: _lines_of(scans[1], ["第二页 Page two"], 40)}
        out = io.BytesIO()
        sc.make_copy(str(path), "application/pdf", lines, out)
        copy = out.getvalue()
        assert copy.startswith(original) and len(copy) - len(original) < len(original)
        before, after = pdfium.PdfDocument(original), pdfium.PdfDocument(copy)
        assert len(after) == 2
        for k in range(2):
            old, new = before[k].render(scale=0.5).to_pil(), after[k].render(scale=0.5).to_pil()
            assert ImageChops.difference(old, new).getbbox() is None  # the text is invisible
        texts = [after[k].get_textpage().get_text_bounded() for k in range(2)]
        assert CHINESE in texts[0] and "HT-2024-0012" in texts[0] and "第二页" in texts[1], texts
        assert PdfReader(io.BytesIO(copy), strict=True).trailer["/Root"]["/Metadata"] is not None


def test_pdf_copy_does_not_read_the_scans_images(tmp_path):
    """The update reads the pages' dictionaries, not their images: a scan with four times the pages
    costs the copy next to nothing more (pypdf's writer read every image: ~3x the file in RSS)."""
    import os
    import tracemalloc

    lines = sc.PageLines(1200, 1200, 0, (("噪声页 Noise", ((10, 10), (600, 10), (600, 60), (10, 60))),))
    peaks, sizes = [], []
    for n in (2, 8):
        noise = [Image.frombytes("L", (1200, 1200), os.urandom(1_440_000)) for _ in range(n)]
        path = tmp_path / f"noise-{n}.pdf"
        path.write_bytes(_scan_pdf(noise, xref_stream=False))
        sizes.append(path.stat().st_size)
        sc.make_copy(str(path), "application/pdf", {1: lines}, io.BytesIO())  # the font loaded, outside the measurement
        tracemalloc.start()
        try:
            with open(os.devnull, "wb") as out:
                sc.make_copy(str(path), "application/pdf", {k: lines for k in range(1, n + 1)}, out)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    assert sizes[1] - sizes[0] > 4_000_000
    assert peaks[1] - peaks[0] < (sizes[1] - sizes[0]) / 10, (peaks, sizes)


def test_copy_is_pdf_a_like_with_the_font_embedded_once_for_all_pages(tmp_path):
    from .test_printing import pdffonts

    scan = gi.render_lines([CHINESE, LATIN], 40)
    src = io.BytesIO()
    scan.save(src, format="PDF", resolution=200)
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(src.getvalue())))
    for _ in range(3):
        writer.add_page(writer.pages[0])
    path = tmp_path / "scan.pdf"
    with open(path, "wb") as fh:
        writer.write(fh)
    lines = _lines_of(scan, [CHINESE, LATIN], 40)
    made = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    copies = {}
    for kind, mime, source in (("pdf", "application/pdf", path), ("image", "image/png", tmp_path / "scan.png")):
        scan.save(tmp_path / "scan.png")
        out = io.BytesIO()
        sc.make_copy(str(source), mime, {n: lines for n in range(1, 5)}, out, now=made)
        copies[kind] = out.getvalue()
    for kind, pdf in copies.items():
        found = pdffonts(pdf, tmp_path)
        # Every font is embedded; the text layer's glyphs are one subset shared by the four pages.
        assert found and all(f["emb"] == "yes" for f in found), (kind, found)
        assert len([f for f in found if "NotoSansCJKsc" in f["name"]]) == 1, (kind, found)
        reader = PdfReader(io.BytesIO(pdf))
        xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
        assert "<pdfaid:part>2</pdfaid:part>" in xmp and "<pdfaid:conformance>B</pdfaid:conformance>" in xmp, kind
        assert "2026-05-01T08:00:00+00:00" in xmp and reader.metadata["/CreationDate"] == "D:20260501080000Z"
        assert reader.trailer["/Root"]["/OutputIntents"][0].get_object()["/S"] == "/GTS_PDFA1"
        assert reader.trailer["/ID"][0] == reader.trailer["/ID"][1]
        for page in reader.pages:
            assert CHINESE in page.extract_text() and "HT-2024-0012" in page.extract_text(), kind


# ---------------------------------------------------------------------------------------------- on the stacks


def test_scanned_upload_gets_a_searchable_copy_borrowers_get_it_marked_destruction_removes_it(app, client, users):
    scan = gi.render_lines([CHINESE, LATIN], 48)
    original = gi.png_bytes(scan)
    login(client, "archivist")
    c = new_customer(client, name="林小红", last_contact_on="2019-03-01")
    rec = upload(client, c["id"], [(original, "扫描件.png")], record_type="温馨卡").json
    fid = rec["files"][0]["id"]
    store = app.extensions["blob_store"]
    with app.app_context():
        run_pending()
        row = db.session.get(RecordFile, fid)
        assert row.extract_status == "done" and row.searchable_key == sc.copy_key(row.object_key)
        with store.open(sc.lines_key(row.object_key, 1)) as fh:
            lines = json.loads(fh.read())
        assert CHINESE in [ln["text"] for ln in lines["lines"]]
        reviewer = db.session.scalar(select(User).where(User.username == "reviewer"))
        records_svc.review_record(db.session, reviewer, rec["id"], now=datetime.now(UTC))
        db.session.commit()

    # keepers: the original's exact bytes as the original, the copy beside it
    plain = client.get(f"/records/{rec['id']}/files/{fid}")
    assert plain.data == original and plain.headers["ETag"]
    page = client.get(f"/records/{rec['id']}").text
    assert f"/records/{rec['id']}/files/{fid}/searchable" in page
    copy = client.get(f"/records/{rec['id']}/files/{fid}/searchable")
    assert copy.status_code == 200 and copy.headers["Content-Type"] == "application/pdf"
    assert "%E6%89%AB%E6%8F%8F%E4%BB%B6.pdf" in copy.headers["Content-Disposition"]
    text = _squashed(_text(copy.data))
    assert "档案管理" in text and "HT-2024-0012" in text
    client.post("/logout")

    # a borrower's download is the copy, watermarked: the scan's words and the mark both selectable
    loan = borrow(client, "staff", [rec["id"]])
    got = client.get(f"/records/{rec['id']}/files/{fid}")
    assert got.status_code == 200 and got.headers["Content-Type"] == "application/pdf"
    assert "ETag" not in got.headers and got.headers["Content-Length"] == str(len(got.data))
    text = _squashed(_text(got.data))
    assert "档案管理" in text and "HT-2024-0012" in text and loan["request_no"] in text
    api = client.get(f"/api/v1/records/{rec['id']}/files/{fid}/searchable")
    assert api.status_code == 200 and loan["request_no"] in _squashed(_text(api.data))
    assert client.get(f"/api/v1/records/{rec['id']}").json["files"][0]["searchable_copy"] is True
    client.post("/logout")
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.actor_name == "staff",
                                                              AuditEntry.action.like("file.download%"))).all()
        assert sorted(e.action for e in entries) == ["file.download", "file.download_searchable"]
        assert all(json.loads(e.details)["searchable_copy"] is True for e in entries)
        assert all(json.loads(e.details)["request_no"] == loan["request_no"] for e in entries)

        # destruction takes the copy and the lines with the record
        object_key = db.session.get(RecordFile, fid).object_key
        derived = list(store.keys(sc.derived_prefix(object_key)))
        assert sc.copy_key(object_key) in derived and sc.lines_key(object_key, 1) in derived
        u = _users(users)
        result = _execute(app, u, _approved_batch(u, [rec["id"]]))
        assert result.destroyed == 1
        assert db.session.get(Record, rec["id"]).status == "destroyed"
        assert list(store.keys(sc.derived_prefix(object_key))) == []
        assert not store.exists(object_key)


def test_a_page_s_own_lines_make_its_copy_page_and_pages_without_lines_get_none():
    from types import SimpleNamespace

    from archive_app.reading import OcrLine

    line = OcrLine(text=CHINESE, confidence=0.99, box=((10, 20), (300, 20), (300, 60), (10, 60)))
    page = SimpleNamespace(page_no=1, source="ocr", lines=[line], rotation=90, width=400, height=800)
    # no such file: the lines are the page's own
    got = sc.page_lines_of("/nonexistent.png", "image/png", page)
    assert got == sc.PageLines(800, 400, 90, ((CHINESE, ((10.0, 20.0), (300.0, 20.0), (300.0, 60.0), (10.0, 60.0))),))
    assert sc.page_lines_of("/nonexistent.pdf", "application/pdf", SimpleNamespace(source="text")) is None


def test_an_update_numbers_its_objects_after_every_object_of_a_damaged_original():
    """A damaged file whose trailer /Size counts too few objects: the update's new objects still get
    numbers of their own, so none of the original's is shadowed."""
    from pypdf.generic import NameObject, NumberObject

    from archive_app.reading.pdf_update import PdfUpdate

    original = _scan_pdf([gi.render_lines([CHINESE], 40)], xref_stream=False)
    reader = PdfReader(io.BytesIO(original))
    highest = max(n for numbers in reader.xref.values() for n in numbers)
    reader.trailer[NameObject("/Size")] = NumberObject(2)
    assert PdfUpdate(reader).add(NumberObject(1)).idnum == highest + 1
