"""The real odd and hostile files of ../shared/testdata through the upload path (content sniffing,
page counts, refusals). The same rules on generated files are in tests/test_upload.py and
tests/test_domain.py."""
from __future__ import annotations

import pytest

from archive_app.errors import BadFile
from archive_app.intake import filetypes

from ..helpers import login, new_customer, upload
from .conftest import real_file


def test_inspect_real_files():
    with open(real_file("ocrmypdf/multipage.pdf"), "rb") as fh:
        mime, pages = filetypes.inspect(fh, "multipage.pdf")
    assert mime == "application/pdf" and pages > 1
    with open(real_file("cnocr/chn-00199980.jpg"), "rb") as fh:
        assert filetypes.inspect(fh, "x.jpg") == ("image/jpeg", 1)
    with open(real_file("ocrmypdf/invalid.pdf"), "rb") as fh, pytest.raises(BadFile) as e:
        filetypes.inspect(fh, "invalid.pdf")
    assert e.value.code == "corrupt_pdf"


def test_odd_real_files_are_stored_or_refused_deliberately(app, client, users):
    login(client, "archivist")
    c = new_customer(client)
    stored = {}
    for name in ("enormous.pdf", "hugemono.pdf", "kcs.pdf", "no_contents.pdf", "ccitt.pdf", "jbig2.pdf",
                 "2400dpi.pdf", "c02-22.pdf"):
        resp = upload(client, c["id"], [(real_file(f"ocrmypdf/{name}").read_bytes(), name)], confirm_duplicate="1")
        assert resp.status_code in (201, 422), (name, resp.status_code)
        if resp.status_code == 422:
            assert resp.json["error"]["code"] in {"corrupt_pdf", "encrypted_pdf"}
        stored[name] = resp.status_code
    # the decompression bomb and the huge page are only stored, never rendered, so they are kept
    assert stored["hugemono.pdf"] == 201 and stored["enormous.pdf"] == 201
    assert client.get("/api/v1/me").status_code == 200  # the server is still fine


def test_real_chinese_scan_is_read_in_the_background_and_found(app, client, users):
    """CnOCR's real paragraph scan, uploaded through the API: its phrases are found, typed in
    Simplified or Traditional script, with the phrase marked in the snippet."""
    from archive_app.jobs import run_pending

    login(client, "archivist")
    c = new_customer(client, name="欧阳明华")
    rec = upload(client, c["id"], [(real_file("cnocr/multi-line_cn2.png").read_bytes(), "温馨卡.png")],
                 record_type="温馨卡", secrecy=1).json
    with app.app_context():
        assert run_pending() >= 1
    assert client.get(f"/api/v1/records/{rec['id']}/status").json["text_status"] == "done"
    for q in ("媒介越来越多", "媒介越來越多", "传播方式", "与消费者更加互动"):
        body = client.get("/api/v1/search", query_string={"q": q}).json
        assert [i["record"]["id"] for i in body["items"]][:1] == [rec["id"]], q
    body = client.get("/api/v1/search", query_string={"q": "传播方式"}).json
    assert "<mark>" in body["items"][0]["snippet"]
