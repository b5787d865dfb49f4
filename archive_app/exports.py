"""Tables to files people open in Excel / WPS: CSV and XLSX with Chinese headers.

Generic: a list of headers and an iterable of rows (sequences of str, int, float, date, datetime,
bool or None). Registers (查阅登记表, later the 销毁清册 and reports) all export through here, so the
encoding, the formula-injection guard and the time zone handling are decided once.

Rows are consumed lazily: a caller may pass a generator that pages through the database, and
neither writer keeps more than a small window of rows in memory besides the output itself.
"""
from __future__ import annotations

import csv
import io
import itertools
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from archive_app.i18n import _

# Excel (and LibreOffice / WPS) evaluate a cell that starts with one of these as a formula:
# "=HYPERLINK(...)" typed into a purpose field would run when the export is opened (OWASP "CSV
# injection"). Tab and CR are on OWASP's list too: some importers strip them and then see "=".
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
DATETIME_FORMAT = "%Y-%m-%d %H:%M"
DATE_FORMAT = "%Y-%m-%d"
XLSX_DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
XLSX_DATE_FORMAT = "yyyy-mm-dd"
# Rows sampled to size the XLSX columns (widths must be set before a streamed sheet's first row).
WIDTH_SAMPLE_ROWS = 200
MIN_WIDTH, MAX_WIDTH = 6, 60

CSV_MIMETYPE = "text/csv; charset=utf-8"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Zone = str | tzinfo | None


def _zone(tz: Zone) -> tzinfo | None:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def _local(value: datetime, zone: tzinfo | None) -> datetime:
    """An aware datetime in ``zone`` (naive ones are taken as already local), without tzinfo."""
    if value.tzinfo is not None and zone is not None:
        value = value.astimezone(zone)
    return value.replace(tzinfo=None)


def neutralise_formula(text: str) -> str:
    """Prefix an apostrophe to text a spreadsheet would run as a formula (shown as typed, never run)."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _csv_cell(value: Any, zone: tzinfo | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, datetime):
        return _local(value, zone).strftime(DATETIME_FORMAT)
    if isinstance(value, date):
        return value.strftime(DATE_FORMAT)
    if isinstance(value, (int, float)):
        # A number is written as a number: "-3" is not a formula and must stay sortable in Excel.
        return str(value)
    return neutralise_formula(str(value))


def table_to_csv(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, tz: Zone = None) -> bytes:
    """The table as CSV bytes: UTF-8 with a BOM, CRLF line ends, RFC 4180 quoting.

    The BOM is what makes Excel on Windows read the file as UTF-8 instead of GBK (Chinese would
    otherwise turn into mojibake). Aware datetimes are written in ``tz`` as ``YYYY-MM-DD HH:MM``.
    Text cells that would start a formula get a leading apostrophe.
    """
    zone = _zone(tz)
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([neutralise_formula(str(h)) for h in headers])
    for row in rows:
        writer.writerow([_csv_cell(v, zone) for v in row])
    return buf.getvalue().encode("utf-8")


# ---------------------------------------------------------------------------------------------- XLSX


def _display_width(value: Any) -> int:
    """Approximate column width in Excel units: CJK and other wide characters count double."""
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    text = str(value)
    longest = max((sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
                   for line in text.splitlines() or [""]), default=0)
    return longest


def _column_widths(headers: Sequence[str], sample: Sequence[Sequence[Any]]) -> list[float]:
    widths = []
    for i, header in enumerate(headers):
        longest = max([_display_width(header)] + [_display_width(row[i]) for row in sample if i < len(row)])
        widths.append(min(max(longest + 2, MIN_WIDTH), MAX_WIDTH))
    return widths


def table_to_xlsx(headers: Sequence[str], rows: Iterable[Sequence[Any]], sheet_title: str,
                  title: str | None = None, *, tz: Zone = None) -> bytes:
    """The table as an XLSX workbook (one sheet), with openpyxl in streaming (write-only) mode.

    Optional ``title`` is a bold line above the header (e.g. "查阅登记表 2026-11-01 至 2026-11-30").
    The header row is bold, filled and frozen, repeated on every printed page, and has an
    auto-filter; columns are sized from the header and the first rows. Aware datetimes become
    real Excel datetimes in ``tz`` without a zone (Excel has none); text is always stored as
    text, never as a formula, and characters XML cannot hold are dropped.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    zone = _zone(tz)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=_sheet_title(str(sheet_title)))  # str(): a lazy (translated) title

    row_iter = iter(rows)
    sample = [list(r) for r in itertools.islice(row_iter, WIDTH_SAMPLE_ROWS)]
    for i, width in enumerate(_column_widths(headers, sample), start=1):
        ws.column_dimensions[get_column_letter(i)].width = width

    bold = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="EEF1F4")
    wrap = Alignment(vertical="top", wrap_text=True)

    def text_cell(value: str, **style: Any) -> WriteOnlyCell:
        cell = WriteOnlyCell(ws, value=ILLEGAL_CHARACTERS_RE.sub("", value))
        # Force the string type: openpyxl would otherwise store "=..." as a formula.
        cell.data_type = "s"
        for name, v in style.items():
            setattr(cell, name, v)
        return cell

    def data_cell(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool):
            return _("是") if value else _("否")
        if isinstance(value, datetime):
            cell = WriteOnlyCell(ws, value=_local(value, zone))
            cell.number_format = XLSX_DATETIME_FORMAT
            return cell
        if isinstance(value, date):
            cell = WriteOnlyCell(ws, value=value)
            cell.number_format = XLSX_DATE_FORMAT
            return cell
        if isinstance(value, (int, float)):
            return value
        text = str(value)
        return text_cell(text, alignment=wrap) if "\n" in text else text_cell(text)

    header_row = 2 if title else 1
    # Sheet views are written before the first row of a streamed sheet: freeze first.
    ws.freeze_panes = f"A{header_row + 1}"
    if title:
        ws.append([text_cell(str(title), font=Font(bold=True, size=14))])
    ws.append([text_cell(str(h), font=bold, fill=header_fill) for h in headers])
    count = 0
    for row in itertools.chain(sample, row_iter):
        ws.append([data_cell(v) for v in row])
        count += 1

    last_col = get_column_letter(max(len(headers), 1))
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.auto_filter.ref = f"A{header_row}:{last_col}{header_row + count}"
    # Registers are wide: print landscape, all columns on one page width.
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True

    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _sheet_title(title: str) -> str:
    """A legal sheet name: at most 31 characters, none of []:*?/\\."""
    cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in title).strip() or "Sheet1"
    return cleaned[:31]


def content_disposition(filename: str, ascii_fallback: str | None = None) -> str:
    """A ``Content-Disposition: attachment`` value for a (Chinese) file name.

    ``filename*`` (RFC 5987/6266, UTF-8, percent-encoded) carries the real name for every current
    browser; ``filename`` is an ASCII fallback for old clients and tools such as ``curl -J``.
    """
    from urllib.parse import quote

    fallback = ascii_fallback or filename.encode("ascii", "ignore").decode() or "download"
    fallback = fallback.replace("\\", "_").replace('"', "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def titled_table(fmt: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], sheet_title: str, *,
                 described: str, exported_by: str, now: datetime, tz: str) -> tuple[bytes, str]:
    """A list exported as XLSX (titled with its filter, who exported it and when) or CSV; the bytes
    and their MIME type."""
    if fmt != "xlsx":
        return table_to_csv(headers, rows, tz=tz), CSV_MIMETYPE
    local_now = now.astimezone(ZoneInfo(tz))
    title = (f"{sheet_title}（{described}）" if described else sheet_title) + \
        _(" · 导出：%(exported_by)s %(local_now)s", exported_by=exported_by, local_now=f'{local_now:%Y-%m-%d %H:%M}')
    return table_to_xlsx(headers, rows, sheet_title, title, tz=tz), XLSX_MIMETYPE
