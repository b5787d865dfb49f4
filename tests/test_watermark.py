"""Borrowers' copies carry a visible watermark: name, department, local time, request number.

Archive staff get the stored bytes; the stored blob never changes; the audit log names the request.
"""
from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from PIL import Image, ImageChops
from pypdf import PdfReader
from sqlalchemy import select

from archive_app.audit.models import AuditEntry
from archive_app.borrowing import watermark as W
from archive_app.extensions import db
from archive_app.jobs import run_pending

from .helpers import borrow, login, make_pdf, new_customer, upload

LINES = ["借阅人 张三 (zhangsan)", "部门 销售一部", "时间 2026-11-25 10:00:00", "借阅单 JY-2026-000012"]


def _image(fmt: str, size=(600, 400), mode: str = "RGB", frames: int = 1) -> bytes:
    pictures = [Image.new(mode, size, "white" if mode != "1" else 1) for _ in range(frames)]
    buf = io.BytesIO()
    if frames > 1:
        pictures[0].save(buf, format=fmt, save_all=True, append_images=pictures[1:])
    else:
        pictures[0].save(buf, format=fmt)
    return buf.getvalue()


def _file(client, files: list[tuple[bytes, str]]) -> dict:
    login(client, "archivist")
    c = new_customer(client, department="销售一部")
    resp = upload(client, c["id"], files)
    assert resp.status_code == 201, resp.json
    client.post("/logout")
    return resp.json


def _audit(app, action: str, actor: str) -> list[dict]:
    with app.app_context():
        rows = db.session.scalars(select(AuditEntry).where(AuditEntry.action == action,
                                                           AuditEntry.actor_name == actor)).all()
        return [json.loads(r.details) for r in rows]


def _local_day(app) -> str:
    return datetime.now(UTC).astimezone(ZoneInfo(app.config["TIMEZONE"])).strftime("%Y-%m-%d")


# ---------------------------------------------------------------------------------------------- downloads


def test_borrowed_pdf_download_is_watermarked_and_archivist_gets_the_original(app, client, users):
    original = make_pdf(pages=3, marker="wm")
    rec = _file(client, [(original, "合同.pdf")])
    fid = rec["files"][0]["id"]
    loan = borrow(client, "staff", [rec["id"]])
    for url in (f"/records/{rec['id']}/files/{fid}", f"/api/v1/records/{rec['id']}/files/{fid}/content"):
        got = client.get(url)
        assert got.status_code == 200, url
        assert got.headers["Content-Length"] == str(len(got.data))
        assert got.headers["Content-Type"] == "application/pdf"
        assert "filename*=UTF-8''%E5%90%88%E5%90%8C.pdf" in got.headers["Content-Disposition"]
        assert "ETag" not in got.headers  # not the stored bytes
        assert got.data != original
        pdf = PdfReader(io.BytesIO(got.data))
        assert len(pdf.pages) == 3
        for page in pdf.pages:
            text = page.extract_text()
            assert loan["request_no"] in text
            assert "staff" in text and "销售一部" in text and _local_day(app) in text
    client.post("/logout")

    entries = _audit(app, "file.download", "staff")
    assert len(entries) == 2
    for details in entries:
        assert details["request_no"] == loan["request_no"] and details["watermarked"] is True
        assert details["file_id"] == fid

    login(client, "archivist")
    for url in (f"/records/{rec['id']}/files/{fid}", f"/api/v1/records/{rec['id']}/files/{fid}/content"):
        plain = client.get(url)
        assert plain.status_code == 200 and plain.data == original  # the stored blob is unchanged
        assert plain.headers["Content-Length"] == str(len(original))
    assert all("request_no" not in d for d in _audit(app, "file.download", "archivist"))


@pytest.mark.parametrize("fmt,mime,name", [("JPEG", "image/jpeg", "身份证.jpg"), ("PNG", "image/png", "背面.png")])
def test_borrowed_image_download_is_a_marked_image_of_the_same_size(app, client, users, fmt, mime, name):
    original = _image(fmt)
    rec = _file(client, [(original, name)])
    fid = rec["files"][0]["id"]
    loan = borrow(client, "staff", [rec["id"]])
    got = client.get(f"/api/v1/records/{rec['id']}/files/{fid}/content")
    assert got.status_code == 200 and got.headers["Content-Type"] == mime
    assert got.headers["Content-Length"] == str(len(got.data))
    assert got.data != original
    marked = Image.open(io.BytesIO(got.data))
    marked.load()
    assert marked.format == fmt and marked.size == (600, 400)
    # visibly changed: pixels differ from the plain white original
    diff = ImageChops.difference(marked.convert("RGB"), Image.open(io.BytesIO(original)).convert("RGB"))
    assert diff.getbbox() is not None
    client.post("/logout")
    assert [d["request_no"] for d in _audit(app, "file.download", "staff")] == [loan["request_no"]]

    login(client, "archivist")
    assert client.get(f"/api/v1/records/{rec['id']}/files/{fid}/content").data == original


def test_borrowed_tiff_keeps_every_frame_marked(app, client, users):
    original = _image("TIFF", size=(300, 500), mode="L", frames=2)
    rec = _file(client, [(original, "扫描.tif")])
    fid = rec["files"][0]["id"]
    borrow(client, "staff", [rec["id"]])
    got = client.get(f"/records/{rec['id']}/files/{fid}")
    assert got.status_code == 200 and got.headers["Content-Type"] == "image/tiff"
    assert got.headers["Content-Length"] == str(len(got.data))
    marked = Image.open(io.BytesIO(got.data))
    assert marked.format == "TIFF" and marked.n_frames == 2 and marked.size == (300, 500)
    for i in range(2):
        marked.seek(i)
        assert marked.convert("L").getextrema()[0] < 255  # something drawn on every frame


# ---------------------------------------------------------------------------------------------- page images


def test_page_image_served_to_a_borrower_is_marked(app, client, users):
    rec = _file(client, [(_image("PNG", size=(800, 1000)), "page.png")])
    fid = rec["files"][0]["id"]
    with app.app_context():
        assert run_pending() >= 1
    base = f"/records/{rec['id']}/files/{fid}/pages/1"
    login(client, "archivist")
    stored_view = client.get(f"{base}/image").data
    stored_thumb = client.get(f"{base}/thumb").data
    client.post("/logout")
    assert stored_view[:3] == b"\xff\xd8\xff"

    loan = borrow(client, "staff", [rec["id"]], kind="view", approvers=("head",))
    view = client.get(f"{base}/image")
    assert view.status_code == 200 and view.headers["Content-Type"] == "image/jpeg"
    assert view.headers["Content-Length"] == str(len(view.data))
    assert view.data != stored_view
    marked = Image.open(io.BytesIO(view.data))
    assert marked.format == "JPEG" and marked.size == Image.open(io.BytesIO(stored_view)).size
    # thumbnails are too small for a legible mark and are served as stored
    assert client.get(f"{base}/thumb").data == stored_thumb
    client.post("/logout")
    assert [d["request_no"] for d in _audit(app, "page.view", "staff")] == [loan["request_no"]]
    assert [d.get("request_no") for d in _audit(app, "page.view", "archivist")] == [None]


# ---------------------------------------------------------------------------------------------- the functions


def test_watermark_functions_keep_format_pages_and_modes(tmp_path):
    pdf = W.watermark_pdf(io.BytesIO(make_pdf(pages=2)), LINES, str(tmp_path))
    try:
        reader = PdfReader(pdf)
        assert len(reader.pages) == 2
        assert "JY-2026-000012" in reader.pages[1].extract_text()
    finally:
        pdf.close()
    assert list(tmp_path.iterdir()) == []  # anonymous temporary files only
    for fmt, mode in (("PNG", "RGBA"), ("PNG", "L"), ("JPEG", "L"), ("TIFF", "1")):
        out = Image.open(io.BytesIO(W.watermark_image(_image(fmt, mode=mode), LINES)))
        assert out.format == fmt and out.size == (600, 400)
        assert ("A" in out.mode) == ("A" in mode)
    with pytest.raises(W.WatermarkError):
        W.watermark_pdf(io.BytesIO(b"%PDF-1.4 not really"), LINES, str(tmp_path))
    with pytest.raises(W.WatermarkError):
        W.watermark_image(b"\x89PNG\r\n\x1a\n broken", LINES)


def test_without_a_cjk_font_only_the_ascii_part_is_drawn():
    assert W._ascii_only(LINES) == ["(zhangsan)", "2026-11-25 10:00:00", "JY-2026-000012"]
    assert W.find_cjk_font() is not None  # fonts-noto-cjk is installed by scripts/install-browser.sh
