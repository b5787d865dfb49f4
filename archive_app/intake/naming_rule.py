"""The intake naming rule: 客户号_类型_日期[_题名].ext, e.g. ``C000123_购房合同_20240315.pdf``.

A scanner or a colleague drops files named this way into the watched intake folder
(``intake/intake_folder.py``); the bulk upload page fills each file's fields from its name the same
way (``static/bulk_upload.js`` mirrors this rule for the prefill; the server decides). 类型 is a
record type's Chinese label or its code (``vocabulary.RECORD_TYPE_CODES``, any case); 日期 is
YYYYMMDD; an optional fourth part becomes the record's 题名 (two receipts of one day need two names).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from archive_app.errors import ValidationFailed
from archive_app.vocabulary import RECORD_TYPE_CODES, RECORD_TYPES

CUSTOMER_NO = re.compile(r"C\d{6}", re.IGNORECASE)
_DATE = re.compile(r"\d{8}")
_BY_CODE = {code.upper(): label for label, code in RECORD_TYPE_CODES.items()}
EXAMPLE = "C000123_购房合同_20240315.pdf"


@dataclass(frozen=True)
class NamedFile:
    """What a file's name says about it."""

    customer_no: str
    record_type: str
    doc_date: date
    title: str | None = None


def record_type_of(text: str) -> str | None:
    """The record type a label or code names (``购房合同``, ``GFHT``, ``gfht``), or None."""
    text = text.strip()
    if text in RECORD_TYPES:
        return text
    return _BY_CODE.get(text.upper())


def parse_name(filename: str) -> NamedFile:
    """Read 客户号_类型_日期[_题名].ext; raises ValidationFailed with a Chinese message and a stable code."""
    stem, dot, ext = filename.rpartition(".")
    if not dot or not stem or not ext:
        raise ValidationFailed(f"文件名缺少扩展名，应为 客户号_类型_日期.扩展名（例如 {EXAMPLE}）",
                               code="bad_file_name")
    parts = stem.split("_", 3)
    if len(parts) < 3:
        raise ValidationFailed(f"文件名不符合命名规则 客户号_类型_日期（例如 {EXAMPLE}）", code="bad_file_name")
    customer_no, type_text, date_text = (p.strip() for p in parts[:3])
    if not CUSTOMER_NO.fullmatch(customer_no):
        raise ValidationFailed(f"客户号格式不正确：{customer_no}（应为 C 加 6 位数字，例如 C000123）",
                               code="invalid_customer_no")
    record_type = record_type_of(type_text)
    if record_type is None:
        raise ValidationFailed(f"未知的档案类型：{type_text}", code="invalid_record_type")
    if not _DATE.fullmatch(date_text):
        raise ValidationFailed(f"日期格式不正确：{date_text}（应为 YYYYMMDD，例如 20240315）", code="invalid_date")
    try:
        doc_date = date(int(date_text[:4]), int(date_text[4:6]), int(date_text[6:]))
    except ValueError:
        raise ValidationFailed(f"日期不存在：{date_text}", code="invalid_date") from None
    title = parts[3].strip() if len(parts) == 4 and parts[3].strip() else None
    return NamedFile(customer_no=customer_no.upper(), record_type=record_type, doc_date=doc_date, title=title)


__all__ = ["NamedFile", "parse_name", "record_type_of", "CUSTOMER_NO", "EXAMPLE"]
