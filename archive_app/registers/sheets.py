"""A register file's cells: the first sheet of an XLSX workbook, or a CSV in UTF-8 (with or without BOM) or GBK."""
from __future__ import annotations

import csv
import io
from typing import Any

from archive_app.errors import ValidationFailed
from archive_app.i18n import _

# Excel on a Chinese Windows saves "CSV" in GBK; GB18030 reads every GBK file and more.
CSV_ENCODINGS = ("utf-8-sig", "gb18030")
MAX_ROWS = 100_000


def read_table(filename: str, data: bytes) -> list[list[Any]]:
    """Every row of the register as a list of cell values (text, numbers, dates as openpyxl gives them)."""
    name = filename.lower()
    if name.endswith((".xlsx", ".xlsm")) or data[:2] == b"PK":
        rows = _xlsx_rows(data)
    elif name.endswith((".csv", ".txt")):
        rows = _csv_rows(data)
    else:
        raise ValidationFailed(_("仅支持 XLSX 或 CSV 格式的登记表"), code="unsupported_register")
    # Trailing empty rows (formatted but blank cells) are no rows.
    while rows and not any(_filled(v) for v in rows[-1]):
        rows.pop()
    if len(rows) > MAX_ROWS:
        raise ValidationFailed(_("登记表过大（不超过 %(max_rows)s 行）", max_rows=MAX_ROWS), code="register_too_large")
    return rows


def _filled(value: Any) -> bool:
    return value is not None and str(value).strip() != ""


def _xlsx_rows(data: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged file: all mean "not a workbook"
        raise ValidationFailed(_("无法读取该 XLSX 文件"), code="unreadable_register") from None
    try:
        sheet = book.worksheets[0]
        return [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


def _csv_rows(data: bytes) -> list[list[Any]]:
    for encoding in CSV_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return [list(row) for row in csv.reader(io.StringIO(text, newline=""))]
    raise ValidationFailed(_("无法识别 CSV 文件的编码（请存为 UTF-8 或 GBK）"), code="unreadable_register")
