"""PDFs made for the tests: text layers, image-only scans, mixed files, and hostile ones.

Text-layer pages are written with reportlab (Helvetica), scans with Pillow (the page is the image),
encryption and page rotation with pypdf; the hostile files are written byte by byte. Every function
returns the file's bytes; the same call returns the same bytes.
"""
from __future__ import annotations

import functools
import io
import zlib

from PIL import Image

from . import images as gi
from . import texts

A4 = (595, 842)


def text_pdf(lines: list[str] = texts.TEXT_LAYER_LINES, *, pages: int = 1, marker: str = "") -> bytes:
    """A born-digital PDF: every page has a Helvetica text layer (``lines``, then "Page k of n").

    ``marker`` goes into the metadata so the bytes (and the SHA-256) differ per marker.
    """
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1)
    if marker:
        c.setSubject(marker)
    for k in range(1, pages + 1):
        c.setFont("Helvetica", 12)
        for i, line in enumerate(lines):
            c.drawString(72, A4[1] - 90 - 20 * i, line)
        c.drawString(72, 60, f"Page {k} of {pages}")
        c.showPage()
    c.save()
    return buf.getvalue()


def image_pdf(pages: list[Image.Image], *, dpi: int = 200, rotate: int = 0) -> bytes:
    """A scan saved as PDF: one image per page and no text layer. ``rotate`` sets /Rotate on each page."""
    buf = io.BytesIO()
    first, *rest = [p.convert("RGB") if p.mode not in ("L", "RGB") else p for p in pages]
    first.save(buf, "PDF", resolution=dpi, save_all=True, append_images=rest)
    if not rotate:
        return buf.getvalue()
    import pypdf

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(buf.getvalue())))
    for page in writer.pages:
        page.rotate(rotate)
    return _pypdf_bytes(writer)


def mixed_pdf(text_lines: list[str], scan: Image.Image) -> bytes:
    """Page 1 has a text layer, page 2 is an image-only scan."""
    import pypdf

    writer = pypdf.PdfWriter()
    writer.append(io.BytesIO(text_pdf(text_lines)))
    writer.append(io.BytesIO(image_pdf([scan])))
    return _pypdf_bytes(writer)


WATERMARK = "Evaluation Warning: created with a trial version of ScanKit"


def watermarked_scan_pdf(scan: Image.Image, watermark: str = WATERMARK) -> bytes:
    """A scan filling an A4 page whose only text layer is a one-line trial-version watermark."""
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1)
    c.drawImage(ImageReader(scan.convert("RGB")), 0, 0, width=A4[0], height=A4[1])
    c.setFont("Helvetica", 9)
    c.drawString(36, A4[1] - 20, watermark)
    c.showPage()
    c.save()
    return buf.getvalue()


def encrypted_pdf(data: bytes | None = None, *, user_password: str = "secret",
                  owner_password: str = "owner", algorithm: str = "AES-256") -> bytes:
    """``data`` (default: a text PDF) encrypted. An empty user password gives an owner-password-only
    PDF (print/copy restrictions) that opens without a password."""
    import pypdf

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(data or text_pdf())))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm=algorithm)
    return _pypdf_bytes(writer)


def header_only_pdf() -> bytes:
    """A PDF header, one line of text, then %%EOF: no objects at all."""
    return b"%PDF-1.3\nThis is not a valid PDF file\n%%EOF\n"


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    """The first ``keep`` share of a file (a download or a copy cut short)."""
    return data[: int(len(data) * keep)]


def broken_xref_pdf() -> bytes:
    """A good PDF whose cross-reference table points every object at a wrong offset (readers that
    cope rebuild the table by scanning the file)."""
    import re

    data = text_pdf(["Cross reference table is damaged", "Readers rebuild it by scanning"])
    start = data.rindex(b"\nxref\n")
    end = data.index(b"trailer", start)
    table = re.sub(rb"(\d{10}) 00000 n", lambda m: b"%010d 00000 n" % (int(m.group(1)) + 17), data[start:end])
    assert table != data[start:end]
    return data[:start] + table + data[end:]


def odd_metadata_pdf() -> bytes:
    """A PDF whose document info has invalid dates, raw non-UTF-8 bytes and an unknown key."""
    import pypdf
    from pypdf.generic import ByteStringObject, NameObject, TextStringObject

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(text_pdf(["Odd document information"]))))
    writer.add_metadata({"/CreationDate": "D:2024-13-45 not a date", "/Producer": "scanner \u6863\u6848"})
    info = writer._info.get_object()  # noqa: SLF001 - pypdf has no public setter for raw bytes
    info[NameObject("/Author")] = ByteStringObject(b"\xff\xfe\xc3(")
    info[NameObject("/Sa\xe5r")] = TextStringObject("latin-1 key")
    return _pypdf_bytes(writer)


def attachment_pdf() -> bytes:
    """A PDF that carries an embedded file (an executable's first bytes)."""
    import pypdf

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(text_pdf(["This PDF carries an attachment"]))))
    writer.add_attachment("setup.exe", b"MZ\x90\x00" + b"\x00" * 60)
    return _pypdf_bytes(writer)


def scripted_pdf() -> bytes:
    """A PDF that runs JavaScript as it opens: a document-level script and an /OpenAction script."""
    import pypdf
    from pypdf.actions import JavaScript
    from pypdf.generic import DictionaryObject, NameObject, TextStringObject

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(text_pdf(["This PDF runs a script"]))))
    writer.add_open_action(JavaScript("app.alert('hello');"))
    writer._root_object[NameObject("/OpenAction")] = DictionaryObject({  # noqa: SLF001 - no public setter
        NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("this.print();")})
    return _pypdf_bytes(writer)


def goto_open_action_pdf(*, then_script: bool = False) -> bytes:
    """A PDF that opens at its first page (/OpenAction /GoTo), harmless; ``then_script``: the GoTo chains
    a JavaScript action through /Next, as a file hiding its script behind a harmless action would."""
    import pypdf
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(text_pdf(["Opens at page one"]))))
    goto = DictionaryObject({NameObject("/S"): NameObject("/GoTo"),
                             NameObject("/D"): ArrayObject([writer.pages[0].indirect_reference, NameObject("/Fit")])})
    if then_script:
        goto[NameObject("/Next")] = writer._add_object(DictionaryObject({  # noqa: SLF001
            NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("app.alert(1);")}))
    writer._root_object[NameObject("/OpenAction")] = goto  # noqa: SLF001
    return _pypdf_bytes(writer)


def launch_pdf() -> bytes:
    """A PDF whose first page has a link that launches a program (/Launch)."""
    import pypdf
    from pypdf.generic import ArrayObject, DictionaryObject, FloatObject, NameObject, TextStringObject

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(text_pdf(["Click here"]))))
    link = DictionaryObject({
        NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject("/Link"),
        NameObject("/Rect"): ArrayObject([FloatObject(v) for v in (50, 50, 200, 80)]),
        NameObject("/A"): DictionaryObject({NameObject("/S"): NameObject("/Launch"),
                                            NameObject("/F"): TextStringObject("cmd.exe")})})
    writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(link)])  # noqa: SLF001
    return _pypdf_bytes(writer)


def no_contents_pdf() -> bytes:
    """One page with no /Contents entry at all."""
    return _raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                     b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                     b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << >> >>"])


def blank_scan_pdf() -> bytes:
    """A scanned empty sheet: one white image filling the page."""
    return image_pdf([Image.new("L", (850, 1100), 255)])


@functools.cache
def huge_scan_pdf(side_pt: int = 8400, side_px: int = 24000) -> bytes:
    """A decompression bomb of a scan: an 8400 x 8400 pt page (almost 3 m) holding one 24000 x 24000
    1-bit image (576 Mpx, 72 MB decoded, 0.1 MB stored) with one big line of text, HUGE_SCAN_TEXT."""
    line = gi.render_lines([HUGE_SCAN_TEXT], 420, margin=0).point(lambda v: 255 if v > 128 else 0).convert("1")
    x0 = (side_px // 8 // 4) * 8  # byte-aligned left edge of the text
    y0 = side_px // 3
    row_bytes = side_px // 8
    white = b"\xff" * row_bytes
    text_rows = line.tobytes()
    line_bytes = (line.width + 7) // 8
    z = zlib.compressobj(9)
    parts = []
    for y in range(side_px):
        k = y - y0
        if 0 <= k < line.height:
            seg = text_rows[k * line_bytes:(k + 1) * line_bytes]
            row = white[: x0 // 8] + seg + white[x0 // 8 + len(seg):]
            parts.append(z.compress(row[:row_bytes]))
        else:
            parts.append(z.compress(white))
    stream = b"".join(parts) + z.flush()
    content = f"q {side_pt} 0 0 {side_pt} 0 0 cm /Im0 Do Q".encode()
    return _raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {side_pt} {side_pt}] "
        f"/Resources << /XObject << /Im0 5 0 R >> >> /Contents 4 0 R >>".encode(),
        _stream(b"", content),
        _stream(f"/Type /XObject /Subtype /Image /Width {side_px} /Height {side_px} /ColorSpace /DeviceGray "
                f"/BitsPerComponent 1 /Filter /FlateDecode".encode(), stream),
    ])


HUGE_SCAN_TEXT = "A very big scan with little text"


def image_bomb_pdf(side_px: int = 100_000) -> bytes:
    """A page whose one RGB image claims ``side_px`` x ``side_px`` pixels (30 GB decoded for 100000):
    a few hundred bytes stored."""
    z = zlib.compressobj(9)
    stream = z.compress(b"\x00" * 65536) + z.flush()
    return _raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /XObject << /Im0 5 0 R >> >> /Contents 4 0 R >>",
        _stream(b"", b"q 595 0 0 842 0 0 cm /Im0 Do Q"),
        _stream(f"/Type /XObject /Subtype /Image /Width {side_px} /Height {side_px} /ColorSpace /DeviceRGB "
                f"/BitsPerComponent 8 /Filter /FlateDecode".encode(), stream),
    ])


# ---------------------------------------------------------------- plumbing


def _pypdf_bytes(writer) -> bytes:
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _stream(dict_entries: bytes, data: bytes) -> bytes:
    return b"<< " + dict_entries + b" /Length " + str(len(data)).encode() + b" >>\nstream\n" + data + b"\nendstream"


def _raw_pdf(objects: list[bytes]) -> bytes:
    """A PDF of the numbered objects (1, 2, ...; object 1 is the catalog) with a correct xref table."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
