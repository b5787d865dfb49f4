"""A travel-expense receipt (报销单) printing a train number, a contract number and a receipt
number: the numbers an archivist types to find a scanned receipt again (issue 13)."""
from __future__ import annotations

from .images import on_page, png_bytes, render_lines

#: What the receipt prints, line by line.
RECEIPT_LINES = [
    "差旅费报销单",
    "车次 G1234 二等座",
    "合同编号 HT-2024-0012",
    "收据 No.0051971",
    "金额 553.00 元",
]
#: Inputs that must find the uploaded receipt, each.
RECEIPT_QUERIES = ("G1234", "HT-2024-0012", "0012", "0051971", "1971")


def receipt_png() -> bytes:
    """The receipt, 40 px glyphs, on a white sheet as a scanner gives it (PNG)."""
    return png_bytes(on_page(render_lines(RECEIPT_LINES, 40)))
