"""Extraction on the real files of ../shared/testdata (OCRmyPDF's English scans and hostile PDFs, CnOCR's
Chinese scans): the recall and the limits measured on them. The same rules on generated files are in
tests/extraction/test_extraction.py."""
from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from archive_app.reading import CORRUPT_FILE, ExtractionError, extract, ocr_image, render_page_image, render_thumbnail

from ..extraction.test_extraction import accuracy, words_found
from .conftest import CNOCR, OCRMYPDF

PDF = "application/pdf"

# linn.png measured at 0.978 with PP-OCRv4, 0.980 with PP-OCRv6 (bench/ocr.py); the threshold sits below.
LINN_MIN_ACCURACY = 0.96


@pytest.fixture(scope="module")
def linn_image() -> Image.Image:
    img = Image.open(OCRMYPDF / "linn.png")
    img.load()
    return img


@pytest.fixture(scope="module")
def linn_text() -> str:
    return (OCRMYPDF / "linn.txt").read_text(encoding="utf-8")


def test_chinese_multiline_paragraph():
    pages = extract(str(CNOCR / "multi-line_cn2.png"), "image/png")
    assert len(pages) == 1 and pages[0].source == "ocr" and pages[0].page_no == 1
    text = pages[0].text
    assert "在媒介越来越多的情形下" in text
    assert "意味着传播方式的变化" in text
    assert "与消费者更加互动" in text
    assert " " not in text  # no spaces left between Han characters
    assert pages[0].confidence is not None and pages[0].confidence > 0.9


def test_chinese_single_printed_lines():
    """Two noisy 280 x 32 px lines of random characters, transcribed by eye. PP-OCRv6 reads them at
    0.8 and 0.9 (揭若 as 拇箬; 粗 as 靼), PP-OCRv4 read 0.9 and 0.7: the same mean, so the bar is on
    the pair (it was 0.9 on the first line alone, which the old model happened to read better)."""
    accs = [accuracy(truth, ocr_image(Image.open(CNOCR / name)).text, drop_space=True)
            for name, truth in (("chn-00199980.jpg", "揭若遭才柄腾戮畔惬炫"), ("chn-00199985.jpg", "马粗蘑熨距颖猬要藕等"))]
    assert min(accs) >= 0.8 and sum(accs) / 2 >= 0.85, accs


def test_linn_png_accuracy(linn_image, linn_text):
    """linn.png is a 2-colour palette PNG: read raw, RapidOCR sees indices 0/1 (a black page)."""
    assert linn_image.mode == "P"
    res = ocr_image(linn_image)
    assert res.rotation == 0
    assert accuracy(linn_text, res.text) >= LINN_MIN_ACCURACY


def test_linn_rotated_90_in_memory(linn_image, linn_text):
    # Half size to keep the test fast; the upright half-size page reads at ~0.97.
    small = linn_image.convert("L").resize((1275, 1650), Image.Resampling.LANCZOS)
    turned = small.transpose(Image.Transpose.ROTATE_90)  # counter-clockwise
    res = ocr_image(turned)
    assert res.rotation == 90  # turned back clockwise
    # At half size the recogniser drops some spaces between words and columns merge in places,
    # so count the words found, ignoring order and spaces.
    assert words_found(linn_text, res.text) >= 0.9


def test_rotated_skewed_pdf_page(linn_text):
    """rotated_skew.pdf: /Rotate 90 plus a skewed image; image-only, so it goes through OCR."""
    progress = []
    pages = extract(str(OCRMYPDF / "rotated_skew.pdf"), PDF, on_page=lambda d, t: progress.append((d, t)))
    assert progress == [(1, 1)]
    (p,) = pages
    assert p.source == "ocr" and p.page_no == 1
    assert p.height > p.width  # upright page after /Rotate
    # The lines are read well, but on a skewed page the two columns are not always separated
    # (character accuracy in reading order measured 0.72), so compare the words read.
    assert words_found(linn_text, p.text) >= 0.95


def test_invalid_pdf_is_corrupt():
    with pytest.raises(ExtractionError) as ei:
        extract(str(OCRMYPDF / "invalid.pdf"), PDF)
    assert ei.value.code == CORRUPT_FILE and ei.value.message_zh


@pytest.mark.parametrize("name, expect", [
    ("hugemono.pdf", "This is a very big image with a tiny amount of text"),
    ("enormous.pdf", "81 megapixels"),
])
def test_huge_pages_render_within_budget(name, expect):
    """8400 pt page with a 35000x35000 1-bit image, and a 2160 pt page: rendered at a lowered dpi."""
    t0 = time.monotonic()
    (p,) = extract(str(OCRMYPDF / name), PDF)
    assert time.monotonic() - t0 < 30
    assert p.width * p.height <= 40_000_000
    assert expect in p.text


def test_blank_and_contentless_pages_give_no_text():
    for name in ("blank.pdf", "no_contents.pdf"):
        (p,) = extract(str(OCRMYPDF / name), PDF)
        assert p.source == "none" and p.text == "" and p.confidence is None


def _jpeg_size(data: bytes) -> tuple[int, int]:
    assert data[:3] == b"\xff\xd8\xff"
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG"
    return img.size


def test_thumbnails_and_page_images():
    assert max(_jpeg_size(render_thumbnail(str(OCRMYPDF / "linn.pdf"), PDF, 1, max_side=200))) == 200
    w, h = _jpeg_size(render_thumbnail(str(OCRMYPDF / "rotated_skew.pdf"), PDF, 1, max_side=256))
    assert h == 256 and w < h
    assert max(_jpeg_size(render_page_image(str(OCRMYPDF / "multipage.pdf"), PDF, 6))) <= 1600
    t0 = time.monotonic()
    assert max(_jpeg_size(render_thumbnail(str(OCRMYPDF / "hugemono.pdf"), PDF, 1))) == 256
    assert time.monotonic() - t0 < 10
    assert max(_jpeg_size(render_thumbnail(str(OCRMYPDF / "linn.png"), "image/png", 1, max_side=300))) == 300
    assert max(_jpeg_size(render_page_image(str(CNOCR / "chn-00199985.jpg"), "image/jpeg", 1))) == 280
    with pytest.raises(ExtractionError) as ei:
        render_thumbnail(str(OCRMYPDF / "multipage.pdf"), PDF, 7)
    assert ei.value.code == "no_such_page"
