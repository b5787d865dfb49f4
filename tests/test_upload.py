"""Uploading records: by content type, size limits, duplicates, exact bytes back, odd and hostile files."""
from __future__ import annotations

import hashlib

from sqlalchemy import func, select

from archive_app.audit.models import AuditEntry
from archive_app.extensions import db
from archive_app.intake.models import Record, RecordFile
from archive_app.jobs import run_pending

from .generated import hostile, pdfs
from .generated import images as gi
from .helpers import PDF_MIN, login, make_pdf, new_customer, tiny_png, upload


def _counts(app, store):
    with app.app_context():
        rows = db.session.scalar(select(func.count(RecordFile.id)))
        records = db.session.scalar(select(func.count(Record.id)))
    return records, rows, sorted(store.keys("records/"))


def test_contract_and_id_copy_round_trip(app, client, users, store):
    login(client, "archivist")
    c = new_customer(client)
    contract = pdfs.text_pdf()
    id_copy = gi.slip_photo()
    r1 = upload(client, c["id"], [(contract, "合同.pdf")], record_type="购房合同", doc_date="2025-03-01")
    r2 = upload(client, c["id"], [(id_copy, "身份证.jpg"), (tiny_png(1), "背面.png")], record_type="身份证复印件")
    assert r1.status_code == 201, r1.json
    assert r2.status_code == 201, r2.json
    assert r1.json["archival_code"] == f"0001-2025-D30-{c['customer_no']}-3-0001"
    assert r2.json["archival_code"].endswith(f"{c['customer_no']}-1-0001")
    assert r2.json["part"] == 1 and len(r2.json["files"]) == 2
    for rec, expected in ((r1.json, [contract]), (r2.json, [id_copy, tiny_png(1)])):
        for f, content in zip(rec["files"], expected, strict=True):
            assert f["sha256"] == hashlib.sha256(content).hexdigest()
            got = client.get(f"/api/v1/records/{rec['id']}/files/{f['id']}/content")
            assert got.status_code == 200
            assert got.data == content
    # the web page shows both parts with their 档号
    page = client.get(f"/customers/{c['id']}").text
    assert r1.json["archival_code"] in page and r2.json["archival_code"] in page
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action)).all()
    assert {"customer.create", "record.create", "file.upload", "file.download"} <= set(actions)


def test_item_numbers_count_per_part(app, client, users):
    login(client, "archivist")
    c = new_customer(client)
    codes = [upload(client, c["id"], [(make_pdf(marker=str(i)), f"{i}.pdf")]).json["archival_code"]
             for i in range(3)]
    assert [code[-4:] for code in codes] == ["0001", "0002", "0003"]
    other = upload(client, c["id"], [(make_pdf(marker="r"), "r.pdf")], record_type="收据").json
    assert other["archival_code"].endswith("-2-0001")


def test_refusals_have_codes_and_leave_nothing(app, client, users, store):
    login(client, "archivist")
    c = new_customer(client)
    before = _counts(app, store)
    cases = [
        ([(b"", "empty.pdf")], 400, "empty_file"),
        ([(b"just some text, named like a pdf", "scan.pdf")], 415, "unsupported_type"),
        ([(pdfs.header_only_pdf(), "invalid.pdf")], 422, "corrupt_pdf"),
        ([(pdfs.encrypted_pdf(), "locked.pdf")], 422, "encrypted_pdf"),
        ([(hostile.png_bomb(), "bomb.png")], 422, "image_too_large"),
        ([(PDF_MIN, "ok.pdf"), (b"GIF89a....", "x.gif")], 415, "unsupported_type"),
        ([], 400, "no_files"),
    ]
    for files, status, code in cases:
        resp = upload(client, c["id"], files)
        assert resp.status_code == status, (code, resp.json)
        assert resp.json["error"]["code"] == code
        assert resp.json["error"]["message"]
    resp = upload(client, c["id"], [(PDF_MIN, "x.pdf")], record_type="不存在的类型")
    assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_record_type"
    assert _counts(app, store) == before


def test_too_large_is_413(app, client, users, store):
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    login(client, "archivist")
    c = new_customer(client)
    resp = upload(client, c["id"], [(make_pdf(marker="x" * 200_000), "big.pdf")])
    assert resp.status_code == 413
    assert resp.json["error"]["code"] == "too_large"
    assert "上限" in resp.json["error"]["message"]
    assert _counts(app, store)[2] == []


def test_duplicate_warns_then_confirmed(app, client, users, store):
    login(client, "archivist")
    c = new_customer(client)
    first = upload(client, c["id"], [(PDF_MIN, "a.pdf")])
    assert first.status_code == 201
    again = upload(client, c["id"], [(PDF_MIN, "copy.pdf")])
    assert again.status_code == 409
    assert again.json["error"]["code"] == "duplicate_file"
    assert again.json["error"]["details"]["duplicates"][0]["archival_code"] == first.json["archival_code"]
    assert len(list(store.keys("records/"))) == 1  # the refused copy's blob was removed
    confirmed = upload(client, c["id"], [(PDF_MIN, "copy.pdf")], confirm_duplicate="1")
    assert confirmed.status_code == 201
    # the same bytes in another customer's file are not a duplicate
    other = new_customer(client, name="李四")
    assert upload(client, other["id"], [(PDF_MIN, "a.pdf")]).status_code == 201


# name: (content, HTTP status, error code when refused, text status after the background job)
ODD_FILES = {
    "huge.pdf": (pdfs.huge_scan_pdf, 201, None, "done"),  # 576 Mpx of 1-bit scan on an 8400 pt page
    "bomb.pdf": (pdfs.image_bomb_pdf, 201, None, "failed"),  # one image claiming 30 GB: stored, never rendered
    "xref.pdf": (pdfs.broken_xref_pdf, 201, None, "done"),
    "metadata.pdf": (pdfs.odd_metadata_pdf, 201, None, "done"),
    "attachment.pdf": (pdfs.attachment_pdf, 201, None, "done"),
    "no_contents.pdf": (pdfs.no_contents_pdf, 201, None, "done"),
    "restricted.pdf": (lambda: pdfs.encrypted_pdf(user_password=""), 201, None, "done"),
    "scan.pdf": (lambda: gi.png_bytes(gi.scan()), 201, None, "done"),  # a PNG named .pdf
    "locked.pdf": (pdfs.encrypted_pdf, 422, "encrypted_pdf", None),
    "cut.pdf": (lambda: pdfs.truncated(pdfs.text_pdf(pages=3)), 422, "corrupt_pdf", None),
    "bomb.png": (hostile.png_bomb, 422, "image_too_large", None),
}


def test_odd_files_are_stored_or_refused_deliberately(app, client, users):
    login(client, "archivist")
    c = new_customer(client)
    stored = {}
    for name, (make, status, code, _) in ODD_FILES.items():
        resp = upload(client, c["id"], [(make(), name)])
        assert resp.status_code == status, (name, resp.json)
        if code:
            assert resp.json["error"]["code"] == code and resp.json["error"]["message"], name
        else:
            stored[name] = resp.json
    assert stored["scan.pdf"]["files"][0]["mime_type"] == "image/png"  # by content, not by name
    # every stored file's job ends, each on its own: the bomb fails with its reason, the rest are read
    with app.app_context():
        run_pending()
    for name, rec in stored.items():
        (f,) = client.get(f"/api/v1/records/{rec['id']}/status").json["files"]
        assert f["text_status"] == ODD_FILES[name][3], (name, f)
    (bomb,) = client.get(f"/api/v1/records/{stored['bomb.pdf']['id']}/status").json["files"]
    assert bomb["text_error"].startswith("too_large_to_render")
    assert client.get("/api/v1/me").status_code == 200  # the server is still fine


def test_web_form_upload_and_record_page(app, client, users):
    login(client, "archivist")
    c = new_customer(client)
    import io

    resp = client.post(f"/customers/{c['id']}/upload", content_type="multipart/form-data", data={
        "record_type": "认购书", "part": "3", "title": "认购书 3-1201", "secrecy": "1",
        "location_room": "A101", "files": [(io.BytesIO(PDF_MIN), "认购书.pdf")]})
    assert resp.status_code == 302
    page = client.get(resp.location)
    assert "认购书 3-1201" in page.text and "待审核" in page.text and "A101" in page.text
    bad = client.post(f"/customers/{c['id']}/upload", content_type="multipart/form-data", data={
        "record_type": "认购书", "files": [(io.BytesIO(b"hello"), "x.pdf")]})
    assert bad.status_code == 415
    assert "不支持的文件类型" in bad.text
