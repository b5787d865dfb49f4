"""Extraction: real RapidOCR on files the tests make (nothing mocked).

The scans are Chinese and English text rendered with the Noto Sans CJK font (``tests/generated``),
then turned, skewed, blurred, made noisy or faint, saved as PNG, JPEG, CMYK JPEG, palette PNG,
multi-page TIFF and PDF. Recall on the real scans is checked in tests/acceptance.
"""
from __future__ import annotations

import io
import re
import time

import pytest
from PIL import Image

from archive_app.reading import (
    CORRUPT_FILE,
    ENCRYPTED_PDF,
    TOO_LARGE_TO_RENDER,
    UNSUPPORTED_TYPE,
    ExtractionError,
    clean_ocr_text,
    extract,
    get_engine,
    meaningful_text,
    ocr_image,
    render_page_image,
    render_thumbnail,
)
from archive_app.reading.ocr import work_scale
from archive_app.reading.pipeline import thin_layer
from archive_app.reading.text import LaidLine, char_accuracy, reflow_lines

from ..generated import documents, hostile, pdfs, texts
from ..generated import images as gi
from ..generated.images import write

PDF = "application/pdf"
ENGLISH = "\n".join(texts.ENGLISH_LINES)


def words_found(ref: str, hyp: str) -> float:
    """Share of the reference's words (4+ letters) found in the hypothesis, ignoring order and spaces."""
    words = set(re.findall(r"[A-Za-z]{4,}", ref))
    flat = re.sub(r"\s+", "", hyp)
    return sum(1 for w in words if w in flat) / len(words)


def accuracy(ref: str, hyp: str, *, drop_space: bool = False) -> float:
    return char_accuracy(ref, hyp, drop_space=drop_space)


def read_every_line(text: str, lines: list[str] = texts.SCAN_LINES) -> bool:
    """Every line came back whole and in order; the short title on a line of its own. (The three
    lines under it are one sentence wrapped by the page, 13 characters each with no punctuation:
    the reflow may join them, as it should for a wrapped sentence.)"""
    return text.split("\n")[0] == lines[0] and text.replace("\n", "") == "".join(lines)


@pytest.fixture(scope="module")
def english_page() -> Image.Image:
    return gi.render_lines(texts.ENGLISH_LINES, 40)


# ---------------------------------------------------------------- text clean-up


def test_clean_ocr_text_strips_spaces_between_han_only():
    s = "客户 档案 ， 购房 合同\r\n\n  Contract  No. 12 \t 号\u3000楼  "
    assert clean_ocr_text(s) == "客户档案，购房合同\nContract No. 12 号楼"
    assert clean_ocr_text("") == ""


def test_meaningful_text_rejects_short_and_garbage_layers():
    assert meaningful_text("第1页") == ""
    assert meaningful_text("\ufffd" * 40 + "ab") == ""
    assert meaningful_text("本合同由买受人与出卖人于二〇二四年签订，共三页。") != ""


# ---------------------------------------------------------------- Chinese OCR


def test_chinese_multiline_paragraph(tmp_path):
    path = write(tmp_path, "scan.png", gi.png_bytes(gi.scan()))
    pages = extract(str(path), "image/png")
    assert len(pages) == 1 and pages[0].source == "ocr" and pages[0].page_no == 1
    text = pages[0].text
    assert read_every_line(text), text
    assert " " not in text  # no spaces left between Han characters
    assert pages[0].confidence is not None and pages[0].confidence > 0.9


@pytest.mark.parametrize("fault", ["turned 3 degrees", "turned -5 degrees", "skewed", "blurred", "noisy",
                                   "low contrast", "all of them"])
def test_chinese_scan_with_faults_is_read(fault):
    page = gi.scan()
    damaged = {
        "turned 3 degrees": lambda: gi.rotated(page, 3),
        "turned -5 degrees": lambda: gi.rotated(page, -5),
        "skewed": lambda: gi.skewed(page, 0.12),
        "blurred": lambda: gi.blurred(page, 2.0),
        "noisy": lambda: gi.noisy(page, 50, 0.015),
        "low contrast": lambda: gi.low_contrast(page, 130, 180),
        "all of them": lambda: gi.noisy(gi.blurred(gi.low_contrast(gi.skewed(gi.rotated(page, 2), 0.05)), 1.2), 25),
    }[fault]()
    res = ocr_image(damaged)
    assert res.rotation == 0
    assert read_every_line(res.text), res.text


def test_chinese_single_printed_line():
    # A small, grainy, blurred JPEG of one line (about 300 x 60 px).
    res = ocr_image(Image.open(io.BytesIO(gi.slip_photo())))
    assert accuracy(texts.SLIP_LINE, res.text, drop_space=True) >= 0.9


def test_traditional_chinese_rendered_text():
    truth = texts.TRADITIONAL_LINES
    img = gi.render_lines(truth, 56, face="TC", spacing=1.0)
    res = ocr_image(img)
    assert accuracy("".join(truth), res.text, drop_space=True) >= 0.9, res.text
    # The first line fills the width and ends in a Han character, the second starts with one: on the
    # page that is a sentence wrapped, so the reflow joins them (a table row would not be joined).
    assert res.text == "".join(truth), res.text
    assert res.text.index("檔案") < res.text.index("銷售")


def test_model_dictionary_has_traditional_characters():
    """The PP-OCRv4 model's 6623-character dictionary lacked e.g. 簽 認 責, so Traditional pages lost
    them; the PP-OCRv6 recogniser's (18,710 characters) has them."""
    assert set("簽認責買銷檔戶購證複與") <= get_engine().charset


def test_traditional_paragraph_page_is_read():
    img, truth = documents.paragraph_page(texts.PAGES["traditional"], 30, glyph=30, face="TC", size=(1040, 560))
    res = ocr_image(img)
    assert accuracy(truth, res.text, drop_space=True) >= 0.97, res.text
    assert "認購書" in res.text  # 認 was not in the old model's dictionary


# ---------------------------------------------------------------- palette scans, rotation


def test_palette_png_is_read_as_grey_levels(english_page):
    """A 1-bit scan saved as a 2-colour palette PNG: read raw, RapidOCR would see indices 0/1 (a black page)."""
    img = Image.open(io.BytesIO(gi.palette_png(english_page)))
    assert img.mode == "P"
    res = ocr_image(img)
    assert res.rotation == 0
    assert accuracy(ENGLISH, res.text) >= 0.96, res.text


@pytest.mark.parametrize("turn, expected", [(90, 90), (270, 270), (180, 180)])
def test_turned_page_is_turned_back(english_page, turn, expected):
    turned = gi.rotated(english_page, turn)  # counter-clockwise
    res = ocr_image(turned)
    assert res.rotation == expected  # degrees turned back, clockwise
    assert words_found(ENGLISH, res.text) >= 0.9, res.text
    assert res.text.index("Purchase") < res.text.index("Disputes")  # top to bottom


def test_chinese_page_turned_90_is_turned_back():
    res = ocr_image(gi.rotated(gi.scan(), 90))
    assert res.rotation == 90
    assert read_every_line(res.text), res.text


def test_rotated_skewed_pdf_page(tmp_path):
    """A portrait scan stored lying on its side (and fed in crooked), with /Rotate 90: image-only, so OCR."""
    stored = gi.skewed(gi.rotated(gi.on_page(gi.scan()), 90), 0.08)
    path = write(tmp_path, "rotated_skew.pdf", pdfs.image_pdf([stored], rotate=90))
    progress = []
    pages = extract(str(path), PDF, on_page=lambda d, t: progress.append((d, t)))
    assert progress == [(1, 1)]
    (p,) = pages
    assert p.source == "ocr" and p.page_no == 1
    assert p.height > p.width  # upright page after /Rotate
    assert texts.SCAN_PHRASE in p.text and texts.SCAN_PHRASE_2 in p.text, p.text


# ---------------------------------------------------------------- PDFs: text layer vs OCR


def test_text_layer_used_when_present_and_ocr_otherwise(tmp_path):
    # Page 1 has a text layer; page 2 is an image-only page (a scan saved as PDF by Pillow).
    path = write(tmp_path, "mixed.pdf", pdfs.mixed_pdf(texts.TEXT_LAYER_LINES, gi.scan()))
    progress = []
    pages = extract(str(path), PDF, on_page=lambda d, t: progress.append((d, t)))
    assert progress == [(1, 2), (2, 2)]
    assert [p.source for p in pages] == ["text", "ocr"]
    assert "Purchase contract for unit 12-0301" in pages[0].text
    assert pages[0].confidence is None
    assert texts.SCAN_PHRASE in pages[1].text and pages[1].confidence > 0.9


def test_image_only_pdf_pages_are_each_read(tmp_path):
    english = gi.render_lines(texts.ENGLISH_LINES[:2], 40)
    path = write(tmp_path, "scans.pdf", pdfs.image_pdf([gi.scan(), english]))
    pages = extract(str(path), PDF)
    assert [(p.page_no, p.source) for p in pages] == [(1, "ocr"), (2, "ocr")]
    assert read_every_line(pages[0].text), pages[0].text
    assert texts.ENGLISH_LINES[0] in pages[1].text


def test_scan_with_a_one_line_watermark_layer_is_read_too(tmp_path):
    """A trial-version scanner's watermark is the page's only text layer: the image is read as well,
    and both texts are kept (the index gets the scan's words and the watermark's)."""
    path = write(tmp_path, "trial.pdf", pdfs.watermarked_scan_pdf(gi.on_page(gi.scan(), (850, 1200))))
    (p,) = extract(str(path), PDF)
    assert p.source == "ocr" and p.confidence > 0.9
    assert texts.SCAN_PHRASE in p.text and texts.SCAN_PHRASE_2 in p.text, p.text
    assert pdfs.WATERMARK in p.text


def test_text_page_with_a_small_logo_is_not_read_again():
    assert not thin_layer("Purchase contract " * 3, image_share=0.05)
    assert thin_layer(pdfs.WATERMARK, image_share=1.0)
    assert not thin_layer("本合同由买受人与出卖人签订" * 20, image_share=1.0)


# ---------------------------------------------------------------- odd and hostile files


@pytest.mark.parametrize("data", [
    pytest.param(pdfs.header_only_pdf(), id="header then EOF"),
    pytest.param(pdfs.truncated(pdfs.text_pdf(pages=3)), id="cut in half"),
])
def test_invalid_pdf_is_corrupt(tmp_path, data):
    path = write(tmp_path, "invalid.pdf", data)
    with pytest.raises(ExtractionError) as ei:
        extract(str(path), PDF)
    assert ei.value.code == CORRUPT_FILE and ei.value.message_zh


def test_not_a_pdf_is_corrupt(tmp_path):
    p = write(tmp_path, "x.pdf", hostile.ZIP_NAMED_PDF)
    with pytest.raises(ExtractionError) as ei:
        extract(str(p), PDF)
    assert ei.value.code == CORRUPT_FILE


def test_encrypted_pdf_refused(tmp_path):
    path = write(tmp_path, "enc.pdf", pdfs.encrypted_pdf(user_password="secret", owner_password="owner"))
    with pytest.raises(ExtractionError) as ei:
        extract(str(path), PDF)
    assert ei.value.code == ENCRYPTED_PDF
    assert "加密" in ei.value.message_zh
    with pytest.raises(ExtractionError) as ei:
        render_thumbnail(str(path), PDF, 1)
    assert ei.value.code == ENCRYPTED_PDF


def test_damaged_but_readable_pdfs_give_their_text(tmp_path):
    for name, data, expect in (("xref.pdf", pdfs.broken_xref_pdf(), "Cross reference table is damaged"),
                               ("meta.pdf", pdfs.odd_metadata_pdf(), "Odd document information"),
                               ("attached.pdf", pdfs.attachment_pdf(), "This PDF carries an attachment")):
        (p,) = extract(str(write(tmp_path, name, data)), PDF)
        assert p.source == "text" and expect in p.text, name


def test_huge_page_renders_within_budget(tmp_path):
    """An 8400 pt page holding a 24000 x 24000 1-bit image (a decompression bomb of a scan): rendered
    at a lowered dpi, and its one line of big text still read."""
    path = write(tmp_path, "huge.pdf", pdfs.huge_scan_pdf())
    t0 = time.monotonic()
    (p,) = extract(str(path), PDF)
    # A bound against a runaway (rendered at full size it takes minutes, or all memory), not a speed
    # target: ~10 s here when idle, 42 s once under a load of 15 on 2 cores.
    assert time.monotonic() - t0 < 120
    assert p.width * p.height <= 40_000_000
    assert pdfs.HUGE_SCAN_TEXT in p.text, p.text


def test_image_claiming_30_gb_is_refused_unread(tmp_path):
    path = write(tmp_path, "bomb.pdf", pdfs.image_bomb_pdf())
    t0 = time.monotonic()
    for call in (lambda: extract(str(path), PDF), lambda: render_thumbnail(str(path), PDF, 1)):
        with pytest.raises(ExtractionError) as ei:
            call()
        assert ei.value.code == TOO_LARGE_TO_RENDER and "过大" in ei.value.message_zh
    assert time.monotonic() - t0 < 5


def test_png_bomb_is_refused_unread(tmp_path):
    path = write(tmp_path, "bomb.png", hostile.png_bomb())
    with pytest.raises(ExtractionError) as ei:
        extract(str(path), "image/png")
    assert ei.value.code == TOO_LARGE_TO_RENDER


def test_blank_and_contentless_pages_give_no_text(tmp_path):
    for name, data in (("blank.pdf", pdfs.blank_scan_pdf()), ("no_contents.pdf", pdfs.no_contents_pdf())):
        (p,) = extract(str(write(tmp_path, name, data)), PDF)
        assert p.source == "none" and p.text == "" and p.confidence is None, name


def test_cmyk_jpeg(tmp_path):
    path = write(tmp_path, "cmyk.jpg", gi.cmyk_jpeg(gi.scan()))
    with Image.open(path) as check:
        assert check.mode == "CMYK"
    (p,) = extract(str(path), "image/jpeg")
    assert read_every_line(p.text), p.text


def test_png_with_wrong_extension_and_exif_rotation(tmp_path):
    src = gi.scan()
    path = write(tmp_path, "scan.pdf", gi.png_bytes(src))
    (p,) = extract(str(path), "image/png")  # we go by mime, not extension
    assert texts.SCAN_PHRASE in p.text
    # A JPEG stored turned, with EXIF Orientation=8 (display turned 90 degrees counter-clockwise).
    path = write(tmp_path, "phone.jpg", gi.exif_turned_jpeg(src))
    (p,) = extract(str(path), "image/jpeg")
    assert (p.width, p.height) == src.size
    assert read_every_line(p.text), p.text


def test_multiframe_tiff_one_page_per_frame(tmp_path):
    a = Image.open(io.BytesIO(gi.slip_photo())).convert("L")
    b = gi.scan().convert("RGB")
    path = write(tmp_path, "two.tif", gi.tiff_pages([a, b]))
    pages = extract(str(path), "image/tiff")
    assert [p.page_no for p in pages] == [1, 2]
    assert texts.SLIP_LINE in pages[0].text
    assert read_every_line(pages[1].text), pages[1].text


def test_unsupported_and_broken_images(tmp_path):
    png = gi.png_bytes(gi.scan())
    good = write(tmp_path, "scan.png", png)
    with pytest.raises(ExtractionError) as ei:
        extract(str(good), "application/zip")
    assert ei.value.code == UNSUPPORTED_TYPE
    trunc = write(tmp_path, "trunc.png", hostile.cut_off(png, 2000))
    with pytest.raises(ExtractionError) as ei:
        extract(str(trunc), "image/png")
    assert ei.value.code == CORRUPT_FILE
    junk = write(tmp_path, "junk.jpg", hostile.ZEROS_NAMED_JPEG)
    with pytest.raises(ExtractionError) as ei:
        extract(str(junk), "image/jpeg")
    assert ei.value.code == CORRUPT_FILE


# ---------------------------------------------------------------- thumbnails and page viewer


def _jpeg_size(data: bytes) -> tuple[int, int]:
    assert data[:3] == b"\xff\xd8\xff"
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG"
    return img.size


def test_thumbnails_and_page_images(tmp_path, english_page):
    contract = write(tmp_path, "contract.pdf", pdfs.text_pdf())
    assert max(_jpeg_size(render_thumbnail(str(contract), PDF, 1, max_side=200))) == 200
    stored = gi.skewed(gi.rotated(gi.on_page(gi.scan()), 90), 0.08)
    turned = write(tmp_path, "rotated_skew.pdf", pdfs.image_pdf([stored], rotate=90))
    w, h = _jpeg_size(render_thumbnail(str(turned), PDF, 1, max_side=256))
    assert h == 256 and w < h
    six = write(tmp_path, "six.pdf", pdfs.text_pdf(pages=6))
    assert max(_jpeg_size(render_page_image(str(six), PDF, 6))) <= 1600
    huge = write(tmp_path, "huge.pdf", pdfs.huge_scan_pdf())
    t0 = time.monotonic()
    assert max(_jpeg_size(render_thumbnail(str(huge), PDF, 1))) == 256
    assert time.monotonic() - t0 < 10
    palette = write(tmp_path, "page.png", gi.palette_png(english_page))
    assert max(_jpeg_size(render_thumbnail(str(palette), "image/png", 1, max_side=300))) == 300
    slip = gi.slip_photo()
    small = write(tmp_path, "slip.jpg", slip)
    # smaller than the viewer's 1600 px: kept at its own size
    assert max(_jpeg_size(render_page_image(str(small), "image/jpeg", 1))) == max(Image.open(io.BytesIO(slip)).size)
    with pytest.raises(ExtractionError) as ei:
        render_thumbnail(str(six), PDF, 7)
    assert ei.value.code == "no_such_page"


# ---------------------------------------------------------------- words, lines and sizes


def test_spaces_between_latin_words_are_kept():
    """The PP-OCRv4 model ran English words together ("TheEvolutionofOffensive"); each word must stay
    a word of its own for the index."""
    img, truth = documents.english_page()
    res = ocr_image(img)
    assert accuracy(truth, res.text) >= 0.97, res.text
    for line in texts.ENGLISH_LINES:
        assert line in res.text.split("\n"), res.text


def _line(text, left, top, width, h=40, cells=1):
    return LaidLine(text, left, left + width, top, top + h, cells)


def test_reflow_joins_a_sentence_wrapped_by_the_page_only():
    para = [_line("客户档案是销售中心最重要的资料之一每一位成交客户都应建立购", 80, 100, 1200),
            _line("房合同与身份证复印件。", 80, 160, 440)]
    assert reflow_lines(para) == "客户档案是销售中心最重要的资料之一每一位成交客户都应建立购房合同与身份证复印件。"
    # A table: cells side by side, and short single cells, keep their rows.
    table = [_line("客户姓名 联系电话", 80, 100, 1200, cells=2), _line("王建国 13812345678", 80, 160, 1200, cells=2)]
    assert reflow_lines(table).count("\n") == 1
    short = [_line("购房合同", 80, 100, 160), _line("付款凭证", 80, 160, 160)]
    assert reflow_lines(short) == "购房合同\n付款凭证"
    # A line ending a sentence, a heading far above, a line starting elsewhere: kept apart.
    assert "\n" in reflow_lines([_line("客户档案是销售中心最重要的资料之一每一位成交客户都应建立档案。", 80, 100, 1200),
                                 _line("档案内容包括认购书", 80, 160, 400)])
    assert "\n" in reflow_lines([_line("客户档案是销售中心最重要的资料之一每一位成交客户都应建立购", 80, 100, 1200),
                                 _line("房合同", 80, 400, 120)])
    assert "\n" in reflow_lines([_line("客户档案是销售中心最重要的资料之一每一位成交客户都应建立购", 80, 100, 1200),
                                 _line("房合同", 700, 160, 120)])


def test_ocr_of_a_wrapped_paragraph_keeps_phrases_whole():
    # 20 characters a line: "购房合同" is cut between the two lines of the rendered page.
    text = "客户档案的内容包括认购书和付款凭证以及购房合同原件与身份证复印件等全部资料"
    img, truth = documents.paragraph_page(text, 20, glyph=36, size=(880, 240))
    assert truth.split("\n")[0].endswith("购")
    res = ocr_image(img)
    assert res.text == text, res.text


def test_small_images_are_not_enlarged():
    """Measured: enlarging small photos x1.5 made a printed word score under the cut-off; the detector
    scales its own copy, and the recogniser reads each line at 48 px whatever the page size."""
    assert work_scale(300, 60) == 1.0 and work_scale(900, 600) == 1.0
    assert work_scale(8000, 6000) == 0.5


# ---------------------------------------------------------------- squeezed reading

def _chinese(k: int) -> str:
    return "".join(texts.record_sentences(3, seed=k))[:26]


def test_lines_of_chinese_are_read_squeezed_and_lines_with_numbers_as_they_are():
    """A page of Chinese lines is read squeezed past its longest lines; the lines that turn out to hold
    numbers with repeated digits (which squeezing drops first) are read again unsqueezed."""
    numbers = ["13800138000", "1,280,000元", "No.0011001", "440300199001011122"]
    lines = [_chinese(k) for k in range(8)]
    for k, number in enumerate(numbers):
        lines.insert(3 + 3 * k, _chinese(20 + k)[:12] + number)
    img = documents._page(lines, (1240, 1754), 30, margin=80)
    text = ocr_image(img).text.replace(" ", "")
    for number in numbers:
        assert number in text, (number, text)
    assert char_accuracy("\n".join(lines), text, drop_space=True) >= 0.99


def test_squeeze_follows_the_sample_lines():
    from archive_app.reading.ocr import REC_MIN_SQUEEZE, squeeze_for, width_needed

    chinese = "客户档案的内容包括认购书和付款凭证以及购房合同原件"  # 25 characters, ~47 px each unsqueezed
    sample = [(chinese, 47.0 * len(chinese), 0.99)] * 4
    squeeze = squeeze_for(sample)
    assert REC_MIN_SQUEEZE <= squeeze < 0.5
    assert squeeze == pytest.approx(width_needed(chinese) / (47.0 * len(chinese)))
    # lines with digits or Latin words are read again unsqueezed: when the sample says most lines
    # hold them, reading twice would cost more than reading once
    assert squeeze_for(sample[:1] + [("合同编号HT-2024-0012", 900.0, 0.99)] * 3) == 1.0
    assert squeeze_for(sample[:3] + [("合同编号HT-2024-0012", 900.0, 0.99)]) == squeeze
    assert squeeze_for([("The LinnSequencer is a composition tool", 620.0, 0.99)] * 4) == 1.0
    # unsure readings say nothing; a page of short lines is read as it is
    assert squeeze_for([(chinese, 47.0 * len(chinese), 0.5)] * 4) == 1.0
    assert squeeze_for([]) == 1.0


def test_a_squeezed_reading_is_kept_only_for_sure_chinese_that_had_room():
    from archive_app.reading.ocr import _safe_squeezed

    chinese = "客户档案的内容包括认购书和付款凭证以及购房合同原件"
    width = 47.0 * len(chinese)
    assert _safe_squeezed(chinese, width, 0.99, 0.45)
    assert not _safe_squeezed(chinese, width, 0.8, 0.45)  # unsure
    assert not _safe_squeezed(chinese, width / 2, 0.99, 0.45)  # smaller print than the page's
    assert not _safe_squeezed("联系电话13800138000", width, 0.99, 0.45)
    assert not _safe_squeezed("户型LOFT公寓", width, 0.99, 0.45)
    assert _safe_squeezed("购房合同，认购书。", width, 0.99, 0.45)  # punctuation is no Latin


def test_checking_a_page_s_images_does_not_read_the_whole_file(tmp_path):
    """Before rendering a page its images' sizes are checked with pypdf: given a path, pypdf read the
    whole file into memory for every page (a worker reading a 30-page scan peaked at 734 MB)."""
    import os
    import tracemalloc

    from archive_app.reading import pdf as pdfmod

    noise = [Image.frombytes("L", (1000, 1000), os.urandom(1_000_000)) for _ in range(4)]
    path = tmp_path / "scan.pdf"
    path.write_bytes(pdfs.image_pdf(noise))
    size = path.stat().st_size
    assert size > 1_500_000
    pdfmod._check_images(str(path), 0)  # imports pypdf, outside the measurement
    tracemalloc.start()
    try:
        pdfmod._check_images(str(path), 2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < size / 2, (peak, size)


def test_pdf_pages_are_read_from_one_bgr_copy(tmp_path):
    """OCR reads a PDF page from pdfium's rendering as one BGR array (``render_bgr``): the same pixels as
    ``render_page``'s RGB image, in OpenCV's order, without the PIL image and its converted copies."""
    import numpy as np

    from archive_app.reading import pdf as pdfmod

    page = Image.new("RGB", (300, 200), (255, 255, 255))
    page.paste((200, 30, 10), (20, 20, 120, 90))  # a red patch: the channel order shows
    path = tmp_path / "one.pdf"
    path.write_bytes(pdfs.image_pdf([page], dpi=100))
    with pdfmod.open_pdf(str(path)) as doc:
        bgr = pdfmod.render_bgr(doc, 0, 100)
        rgb = np.asarray(pdfmod.render_page(doc, 0, 100))
    assert bgr.dtype == np.uint8 and bgr.shape == rgb.shape and bgr.flags.c_contiguous
    assert np.array_equal(bgr[:, :, ::-1], rgb)
    assert bgr[50, 60, 2] > 150 > bgr[50, 60, 0]  # red lives in the last channel
