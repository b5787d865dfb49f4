"""Pure domain functions: 档号, ID numbers, content sniffing."""
from __future__ import annotations

import io

import pytest

from archive_app.errors import BadFile, UnsupportedType, ValidationFailed
from archive_app.intake import filetypes
from archive_app.intake.customers import CustomerInput, id_card_valid
from archive_app.intake.numbering import archival_code, customer_no_for
from archive_app.vocabulary import RECORD_TYPES

from .generated import hostile, pdfs
from .generated import images as gi
from .helpers import PDF_MIN, tiny_png


def test_archival_code_format():
    assert archival_code("0001", 2026, "D30", customer_no_for(42), 3, 7) == "0001-2026-D30-C000042-3-0007"


def test_every_record_type_has_a_part_and_retention():
    for rtype, (part, retention) in RECORD_TYPES.items():
        assert part in (1, 2, 3, 4), rtype
        assert retention in ("Y", "D30", "D10", "D3"), rtype


@pytest.mark.parametrize("number,ok", [
    ("11010519491231002X", True), ("110105194912310021", False), ("1101051949123100", False), ("", False)])
def test_id_card_check_digit(number, ok):
    assert id_card_valid(number) is ok


def test_customer_input_rejects_bad_values():
    with pytest.raises(ValidationFailed) as e:
        CustomerInput.parse({"name": "张三", "id_number": "110105194912310021"})
    assert e.value.code == "invalid_id_number"
    with pytest.raises(ValidationFailed) as e:
        CustomerInput.parse({"name": "张三", "phones": "12ab"})
    assert e.value.code == "invalid_phone"
    with pytest.raises(ValidationFailed) as e:
        CustomerInput.parse({"name": ""})
    assert e.value.code == "name_required"
    assert CustomerInput.parse({"name": "张三", "phones": "138 0013 8000，13900000000"})["phones"] == \
        "13800138000,13900000000"


@pytest.mark.parametrize("content,mime", [
    (PDF_MIN, "application/pdf"), (tiny_png(), "image/png"),
])
def test_inspect_by_content_not_name(content, mime):
    assert filetypes.inspect(io.BytesIO(content), "whatever.txt") == (mime, 1)


def test_inspect_refuses_wrong_content_with_right_name():
    with pytest.raises(UnsupportedType):
        filetypes.inspect(io.BytesIO(b"PK\x03\x04 a zip file"), "scan.pdf")


def test_inspect_counts_pages_and_refuses_broken_pdfs():
    mime, pages = filetypes.inspect(io.BytesIO(pdfs.text_pdf(pages=6)), "multipage.pdf")
    assert mime == "application/pdf" and pages == 6
    assert filetypes.inspect(io.BytesIO(gi.slip_photo()), "x.jpg") == ("image/jpeg", 1)
    for broken in (pdfs.header_only_pdf(), pdfs.truncated(pdfs.text_pdf(pages=3))):
        with pytest.raises(BadFile) as e:
            filetypes.inspect(io.BytesIO(broken), "invalid.pdf")
        assert e.value.code == "corrupt_pdf"


def test_inspect_refuses_pixel_bomb_header():
    # A PNG header claiming 100000 x 100000 pixels: refused before any pixel is decoded.
    with pytest.raises(BadFile) as e:
        filetypes.inspect(io.BytesIO(hostile.png_bomb()), "bomb.png")
    assert e.value.code == "image_too_large"


def test_encrypted_pdf_refused_unless_it_opens_without_a_password():
    def encrypted(user_password: str) -> bytes:
        return pdfs.encrypted_pdf(PDF_MIN, user_password=user_password, owner_password="owner-secret",
                                  algorithm="AES-128")

    with pytest.raises(BadFile) as e:
        filetypes.inspect(io.BytesIO(encrypted("s3cret")), "locked.pdf")
    assert e.value.code == "encrypted_pdf" and "加密" in e.value.message
    # owner-password-only PDFs (print/copy restrictions) open for reading and are accepted
    assert filetypes.inspect(io.BytesIO(encrypted("")), "restricted.pdf") == ("application/pdf", 1)


def test_cmyk_and_tiff_images_are_accepted():
    from PIL import Image

    cmyk = io.BytesIO()
    Image.new("CMYK", (16, 16), (0, 50, 100, 0)).save(cmyk, format="JPEG")
    assert filetypes.inspect(cmyk, "cmyk.jpg") == ("image/jpeg", 1)
    tiff = io.BytesIO()
    frames = [Image.new("L", (8, 8), v) for v in (0, 128, 255)]
    frames[0].save(tiff, format="TIFF", save_all=True, append_images=frames[1:])
    assert filetypes.inspect(tiff, "scan.tif") == ("image/tiff", 3)
