"""Documents that print: the 销毁证明书 and the 原件交接单 embed the CJK font (read back with poppler's
``pdffonts``), render (``pdftoppm``), carry their real creation date and PDF/A-2b metadata."""
from __future__ import annotations

import io
import re
import subprocess
from datetime import UTC, date, datetime
from types import SimpleNamespace

from PIL import Image
from pypdf import PdfReader

from archive_app.printing import fonts, pdfa
from archive_app.retention.certificates import certificate_pdf

NOW = datetime(2026, 3, 14, 6, 30, tzinfo=UTC)  # 14:30 in Shanghai


def pdffonts(pdf: bytes, tmp_path) -> list[dict[str, str]]:
    """The fonts poppler finds, each as {name, type, emb}."""
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines()[2:]:
        # name type... encoding emb sub uni id gen: read from the right, types hold spaces.
        parts = line.split()
        rows.append({"name": parts[0], "type": " ".join(parts[1:-6]), "emb": parts[-5]})
    return rows


def rendered(pdf: bytes, tmp_path, dpi: int = 50) -> Image.Image:
    """The first page as pdftoppm draws it."""
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-f", "1", "-l", "1", "-png", str(path), str(tmp_path / "page")],
                   check=True, capture_output=True)
    return Image.open(next(tmp_path.glob("page*.png"))).convert("L")


def assert_printable(pdf: bytes, tmp_path, created: datetime) -> PdfReader:
    """Every font embedded and the CJK one among them; it renders with ink; dated; PDF/A-2b declared."""
    found = pdffonts(pdf, tmp_path)
    assert found and all(f["emb"] == "yes" for f in found), found
    assert any(f["name"].endswith("+" + fonts.FILE_NAME[:-4]) and f["type"] == "TrueType" for f in found), found
    page = rendered(pdf, tmp_path)
    assert page.getextrema()[0] < 100, "nothing dark was drawn"
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.metadata["/CreationDate"] == pdfa.pdf_date(created) and not reader.metadata["/CreationDate"].startswith("D:2000")
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert "<pdfaid:part>2</pdfaid:part>" in xmp and "<pdfaid:conformance>B</pdfaid:conformance>" in xmp
    assert created.isoformat(timespec="seconds") in xmp
    intent = reader.trailer["/Root"]["/OutputIntents"][0].get_object()
    assert intent["/S"] == "/GTS_PDFA1"
    assert intent["/DestOutputProfile"].get_object().get_data()[36:40] == b"acsp"  # an ICC profile
    assert len(reader.trailer["/ID"][0]) == 16
    return reader


def _batch(**extra):
    gm, a, b, ex = (SimpleNamespace(display_name=n) for n in ("总经理王五", "监销人甲", "监销人乙", "档案员喆"))
    return SimpleNamespace(batch_no="XH-2026-0007", due_by=date(2026, 1, 1), created_by=ex, created_at=NOW,
                           approved_by=gm, approved_at=NOW, decision_note="同意销毁", executed_by=ex,
                           started_at=NOW, finished_at=None, method="电子数据彻底删除", **extra), \
        [SimpleNamespace(user=a, signed_at=NOW), SimpleNamespace(user=b, signed_at=NOW)]


def test_certificate_embeds_the_cjk_font_renders_and_is_dated(tmp_path):
    batch, supervisors = _batch()
    entry = SimpleNamespace(archival_code="0001-2015-D10-C000001-0001", title="温馨卡 赵六", page_count=2,
                            sha256s="ab" * 32, file_count=1, total_bytes=1234)
    pdf = certificate_pdf(batch, [entry], supervisors, "Asia/Shanghai", finished_at=NOW)
    local = NOW.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    reader = assert_printable(pdf, tmp_path, local)
    assert reader.metadata["/CreationDate"].startswith("D:20260314143000+08'00'")
    text = "".join(p.extract_text() for p in reader.pages)
    # Spaced oddly when the font was a reader's guess ("X H-2026-0007"); now the letters are the font's.
    assert "XH-2026-0007" in text and "档案销毁证明书" in text and "档案员喆" in text
    # Same inputs, same moment: same bytes (the ID is derived, not random).
    assert certificate_pdf(batch, [entry], supervisors, "Asia/Shanghai", finished_at=NOW) == pdf


def test_pdf_date_keeps_the_offset():
    assert pdfa.pdf_date(NOW) == "D:20260314063000Z"
    assert re.fullmatch(r"D:\d{14}[+-]\d\d'\d\d'", pdfa.pdf_date(NOW.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))))
