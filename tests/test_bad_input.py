"""Bad input: uploads refused before their bytes are read, every TIFF frame size-checked, file names
cleaned alike whatever their separators, numbers range-checked, OPTIONS/TRACE answered with Allow."""
from __future__ import annotations

import io
import os

import pytest

from archive_app.errors import BadFile
from archive_app.intake import filetypes

from .conftest import make_app
from .generated import images as gi
from .generated.hostile import tiff_with_huge_frame
from .helpers import PDF_MIN, login, make_pdf, new_customer, upload

BOUNDARY = "edge-boundary-7f3a"


class CountingBody(io.RawIOBase):
    """A request body that counts the bytes the server reads from it."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._data.seek(offset, whence)

    def tell(self) -> int:
        return self._data.tell()

    def readinto(self, buffer) -> int:
        n = self._data.readinto(buffer)
        self.consumed += n
        return n


def multipart(files: list[tuple[str, bytes]], fields: dict[str, str] | None = None,
              raw_names: bool = True) -> bytes:
    """A multipart/form-data body written by hand, so each file name goes out exactly as given."""
    out = io.BytesIO()
    for name, value in (fields or {}).items():
        out.write(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for filename, content in files:
        out.write(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{filename}"\r\n'
                  "Content-Type: application/octet-stream\r\n\r\n".encode())
        out.write(content + b"\r\n")
    out.write(f"--{BOUNDARY}--\r\n".encode())
    return out.getvalue()


def _post_body(client, path: str, body: bytes, **headers: str):
    stream = CountingBody(body)
    resp = client.post(path, input_stream=stream, content_length=len(body),
                       content_type=f"multipart/form-data; boundary={BOUNDARY}", headers=headers)
    return resp, stream


# ----------------------------------------------------------------------- refused before the body


def test_anonymous_uploads_are_refused_before_their_bytes_are_read(tmp_path, request, users_factory):
    """With CSRF on (as in production) the CSRF check used to read the form, spooling every file to
    ARCHIVE_UPLOAD_TMP_DIR before the anonymous request was turned away."""
    app = make_app("sqlite-fs", tmp_path, request, {"WTF_CSRF_ENABLED": True, "TESTING": False})
    users_factory(app)
    client = app.test_client()
    body = multipart([("contract.pdf", make_pdf(marker="x" * 300_000))], {"record_type": "购房合同"})
    spool = app.config["UPLOAD_TMP_DIR"]

    page, page_read = _post_body(client, "/customers/1/upload", body)
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    api, api_read = _post_body(client, "/api/v1/customers/1/records", body)
    assert api.status_code == 401 and api.json["error"]["code"] == "unauthorized"
    more, more_read = _post_body(client, "/api/v1/records/1/files", body)
    assert more.status_code == 401
    # Not one byte of the 300 kB body was read, so nothing can have been spooled.
    assert page_read.consumed == api_read.consumed == more_read.consumed == 0
    assert os.listdir(spool) == []
    # nor is an anonymous JSON body read (into memory) before the refusal
    json_body = CountingBody(b'{"name": "' + b"x" * 300_000 + b'"}')
    resp = client.post("/api/v1/customers", input_stream=json_body, content_type="application/json",
                       content_length=300_012)
    assert resp.status_code == 401 and json_body.consumed == 0


def test_an_upload_by_a_role_that_may_not_upload_is_refused_before_its_body(app, client, users):
    login(client, "archivist")
    c = new_customer(client)
    client.post("/logout")
    login(client, "auditor")
    body = multipart([("contract.pdf", PDF_MIN)], {"record_type": "购房合同"})
    resp, read = _post_body(client, f"/api/v1/customers/{c['id']}/records", body)
    assert resp.status_code == 403 and resp.json["error"]["code"] == "forbidden"
    page, page_read = _post_body(client, f"/customers/{c['id']}/upload", body)
    assert page.status_code == 403
    assert read.consumed == page_read.consumed == 0
    # a keeper's upload still reads the body and files the record
    client.post("/logout")
    login(client, "archivist")
    ok, ok_read = _post_body(client, f"/api/v1/customers/{c['id']}/records", body)
    assert ok.status_code == 201, ok.json
    assert ok_read.consumed == len(body)


# --------------------------------------------------------------------------------- TIFF frames


def test_every_tiff_frame_is_size_checked():
    """A TIFF whose first page is a harmless 8x8 and whose second claims 20000x20000 pixels."""
    bomb = tiff_with_huge_frame(20_000, 20_000)
    with pytest.raises(BadFile) as refused:
        filetypes.inspect(io.BytesIO(bomb), "scan.tif")
    assert refused.value.code == "image_too_large"
    assert refused.value.details["frame"] == 2
    # a real three-page TIFF passes with its page count
    pages = gi.tiff_pages([gi.on_page(gi.render_lines([f"第{i}页"]), (300, 400)) for i in (1, 2, 3)])
    assert filetypes.inspect(io.BytesIO(pages), "ok.tif") == ("image/tiff", 3)


def test_a_tiff_with_a_huge_later_frame_is_refused_at_upload(app, client, users, store):
    login(client, "archivist")
    c = new_customer(client)
    resp = upload(client, c["id"], [(tiff_with_huge_frame(20_000, 20_000), "scan.tif")])
    assert resp.status_code == 422 and resp.json["error"]["code"] == "image_too_large", resp.json
    assert "第 2 页" in resp.json["error"]["message"]
    assert list(store.keys("records/")) == []


# ---------------------------------------------------------------------------------- file names


def test_clean_filename_keeps_the_last_part_and_the_extension():
    assert filetypes.clean_filename("C:\\scans\\2026\\合同.pdf") == "合同.pdf"
    assert filetypes.clean_filename("scans/2026/合同.pdf") == "合同.pdf"
    assert filetypes.clean_filename("../../etc/passwd") == "passwd"
    assert filetypes.clean_filename("invoice\u202efdp.exe\x00\x07") == "invoicefdp.exe"
    assert filetypes.clean_filename("..") == filetypes.clean_filename("") == filetypes.clean_filename(None) == "file"
    long_name = "甲" * 300 + ".pdf"
    cut = filetypes.clean_filename(long_name)
    assert cut.endswith(".pdf") and cut.startswith("甲")
    assert len(cut.encode("utf-8")) <= filetypes.MAX_NAME_BYTES
    assert set(cut[:-4]) == {"甲"}  # cut on a character boundary, never half a character
    assert filetypes.clean_filename("a" * 300) == "a" * filetypes.MAX_NAME_BYTES


def test_uploaded_names_lose_their_folders_whichever_separator(app, client, users):
    """Browsers send backslashes unescaped; werkzeug alone read ``C:\\scans\\a.pdf`` as ``C:scansa.pdf``."""
    login(client, "archivist")
    c = new_customer(client)
    names = ["C:\\scans\\2026\\win.pdf", "scans/2026/unix.pdf", "C:\\\\escaped\\\\esc.pdf", "x" * 300 + ".pdf"]
    files = [(name, make_pdf(marker=str(i))) for i, name in enumerate(names)]
    body = multipart(files, {"record_type": "购房合同"})
    resp, _ = _post_body(client, f"/api/v1/customers/{c['id']}/records", body)
    assert resp.status_code == 201, resp.json
    kept = [f["original_name"] for f in resp.json["files"]]
    assert kept[:3] == ["win.pdf", "unix.pdf", "esc.pdf"]
    assert kept[3] == "x" * (filetypes.MAX_NAME_BYTES - 4) + ".pdf"
    # the test client's own multipart writer (the path most clients take) gives the same names
    again = upload(client, c["id"], [(make_pdf(marker="w"), "D:\\docs\\合同.pdf"), (make_pdf(marker="u"), "docs/合同2.pdf")])
    assert [f["original_name"] for f in again.json["files"]] == ["合同.pdf", "合同2.pdf"]


# ------------------------------------------------------------------------------ methods, numbers


def test_options_and_trace_are_answered_with_allow(app, client, users):
    login(client, "archivist")
    for path in ("/api/v1/customers", "/customers/new", "/login"):
        options = client.options(path)
        assert options.status_code == 200, path
        allowed = {m.strip() for m in options.headers["Allow"].split(",")}
        assert "GET" in allowed and "TRACE" not in allowed, path
        trace = client.open(path, method="TRACE")
        assert trace.status_code == 405, path
        assert {m.strip() for m in trace.headers["Allow"].split(",")} == allowed, path
    assert "POST" in client.options("/api/v1/customers").headers["Allow"]



def test_every_integer_parameter_is_range_checked(app, client, users):
    """Ids past the 32-bit id columns used to reach PostgreSQL and fail there (500)."""
    login(client, "archivist")
    c = new_customer(client)
    past = str(2**31)  # one past the largest id any column holds
    assert client.get(f"/api/v1/customers/{past}").status_code == 404
    assert client.get(f"/customers/{past}").status_code == 404
    for args in ({"department_id": past}, {"record_id": past}, {"page": "1000001"}):
        resp = client.get("/api/v1/loan-register", query_string=args)
        assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_parameter", args
    for key in ("customer_id", "year_from", "page"):
        resp = client.get("/api/v1/search", query_string={"q": "合同", key: past})
        assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_parameter", key
    resp = client.patch(f"/api/v1/customers/{c['id']}", json={"consultant_id": int(past), "reason": "更正"})
    assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_parameter"
    resp = client.post("/api/v1/paper-loans", json={"request_id": int(past), "record_id": 1, "pages": 1})
    assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_parameter"
    # a consultant id that names nobody is a missing thing, like any other id
    resp = client.patch(f"/api/v1/customers/{c['id']}", json={"consultant_id": 99999, "reason": "更正"})
    assert resp.status_code == 404 and resp.json["error"]["code"] == "unknown_consultant"


def test_text_the_database_cannot_keep_is_refused(app, client, users):
    """A NUL character (PostgreSQL refuses it) and text longer than its column: 400, never 500."""
    login(client, "archivist")
    c = new_customer(client)
    for resp in (client.post("/api/v1/customers", json={"name": "王\x00明"}),
                 client.get("/api/v1/customers", query_string={"q": "王\x00"}),
                 upload(client, c["id"], [(PDF_MIN, "a.pdf")], title="合同\x00")):
        assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_text"
    for field, limit in (("project", 100), ("unit", 100), ("address", 300), ("department", 100)):
        resp = client.patch(f"/api/v1/customers/{c['id']}", json={field: "楼" * (limit + 1), "reason": "更正"})
        assert resp.status_code == 400 and resp.json["error"]["code"] == "field_too_long", field
        assert client.patch(f"/api/v1/customers/{c['id']}", json={field: "楼" * limit, "reason": "更正"}).status_code == 200
