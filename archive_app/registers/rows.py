"""One register row checked: every problem of the row (not only the first), and whether it repeats a customer.

Plain functions over plain values: the caller gives the cells, the column mapping and lookups
(consultants and departments by name, phones and ID numbers already on file). Customer fields are
validated by ``intake.customers.CustomerInput`` and card fields by ``visits.cards.parse_card``,
field by field so that a row with three mistakes reports three.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Mapping, Sequence

from archive_app.errors import ValidationFailed
from archive_app.i18n import _
from archive_app.intake.customers import CustomerInput
from archive_app.registers.headers import CARD_FIELDS, FIELDS
from archive_app.visits.cards import parse_card
from archive_app.visits.choices import CARD_CHOICES
from archive_app.vocabulary import CUSTOMER_KINDS, source_text

CUSTOMER_FIELDS = ("name", "kind", "phones", "id_number", "business_type", "grade", "project", "unit", "address",
                   "notes", "deal_closed_on", "contract_ended_on", "last_contact_on")
DATE_FIELDS = ("deal_closed_on", "contract_ended_on", "last_contact_on", "visit_1", "visit_2", "visit_3")
_KIND_WORDS = {"个人": "person", "个人客户": "person", "企业": "company", "企业客户": "company", "公司": "company",
               **{code: code for code in CUSTOMER_KINDS}}
_YES = {"是", "√", "✓", "Y", "YES", "1", "TRUE", "踩盘"}
_NO = {"否", "", "N", "NO", "0", "FALSE", "×"}
# Excel's day numbers (1900 system) of 1954-10-03 and 2119-01-08: a number in this range in a date
# column is a date Excel stored as a number; anything else is no date.
_EXCEL_DAYS = (20_000, 80_000)
_EXCEL_EPOCH = date(1899, 12, 30)
_DATE_TEXT = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:\s+[\d:]+)?$")


@dataclass
class Lookups:
    """What rows are checked against: consultants and departments by name, identities already on file."""

    consultants: Mapping[str, int]                 # display name or username -> user id
    departments: Mapping[str, int]                 # department name -> id
    phones: dict[str, int] = field(default_factory=dict)       # phone -> existing customer id
    id_numbers: dict[str, int] = field(default_factory=dict)   # ID number -> existing customer id


@dataclass
class Problem:
    """One thing wrong with a row: the column's label, a stable code, a Chinese message."""

    field: str
    code: str
    message: str


@dataclass
class CheckedRow:
    """A data row after checking: its line in the file, the values to write, its problems, its twin."""

    row_no: int
    customer: dict[str, Any]
    consultant_id: int | None
    department_id: int | None
    card: dict[str, Any] | None
    problems: list[Problem]
    # "客户 KH… " or "第 N 行": the customer on file or the earlier row with the same phone or ID number
    duplicate_of: str | None = None

    @property
    def ready(self) -> bool:
        return not self.problems and self.duplicate_of is None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a phone typed into Excel as a number: 13912345678.0
    return str(value).strip()


def parse_date(value: Any) -> date | None:
    """A register's date: a real date cell, an Excel day number, 2026-11-25, 2026/11/25, 2026.11.25 or
    2026年11月25日; None when empty; ValueError for anything else."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if _EXCEL_DAYS[0] <= value <= _EXCEL_DAYS[1]:
            return _EXCEL_EPOCH + timedelta(days=int(value))
        raise ValueError(value)
    found = _DATE_TEXT.match(str(value).strip())
    if not found:
        raise ValueError(value)
    return date(*(int(g) for g in found.groups()))


def _choice_words(codes: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for code, label in codes.items():
        text = source_text(label)  # spreadsheets are typed in the paper's words, whatever the reader's language
        for word in (code, text, _plain(text)):
            out[word.upper()] = code
    return out


def _plain(text: str) -> str:
    """A choice as typed in a spreadsheet: 25岁以下 → 25以下, 80-100㎡ → 80-100, 3-5万元 → 3-5万."""
    text = re.sub(r"[\s岁㎡平米方元/]|m2|M2", "", text).replace("～", "-").replace("~", "-").replace("—", "-")
    return text.upper()


_CHOICES = {f: _choice_words(codes) for f, (_, codes) in CARD_CHOICES.items()}


def check_row(row_no: int, cells: Sequence[Any], mapping: Sequence[str | None], lookups: Lookups) -> CheckedRow:
    """Check one data row (``row_no``: its line in the file, 1-based) against the rules and ``lookups``."""
    raw = {f: cells[i] if i < len(cells) else None for i, f in enumerate(mapping) if f}
    problems: list[Problem] = []

    def problem(field_: str, code: str, message: str) -> None:
        problems.append(Problem(FIELDS[field_][0] if field_ in FIELDS else field_, code, message))

    dates: dict[str, date | None] = {}
    for key in DATE_FIELDS:
        if key in raw:
            try:
                dates[key] = parse_date(raw[key])
            except ValueError:
                problem(key, "invalid_date", _("%(value)s不是日期：%(text)s", value=FIELDS[key][0], text=_text(raw[key])))
                dates[key] = None
    customer: dict[str, Any] = {}
    for key in CUSTOMER_FIELDS:
        if key not in raw:
            continue
        value = dates[key] if key in DATE_FIELDS else _text(raw[key])
        if key == "kind":
            kind = _KIND_WORDS.get(value or "个人")
            if kind is None:
                problem(key, "invalid_kind", _("客户类别须为个人或企业：%(value)s", value=value))
                continue
            value = kind
        if key == "grade":
            value = value.upper().removesuffix("级")
        customer[key] = value
    if not customer.get("name"):
        problem("name", "name_required", _("缺少客户姓名"))
        customer["name"] = customer.get("name") or "?"
    # Field by field, so every mistake of the row is reported; kind and ID number are checked together.
    for key in customer:
        if key in ("kind", "id_number"):
            continue
        try:
            customer.update(CustomerInput.parse({key: customer[key]}, partial=True))
        except ValidationFailed as exc:
            problem(key, exc.code, exc.message)
    if customer.get("id_number"):
        try:
            customer.update(CustomerInput.parse({"kind": customer.get("kind", "person"),
                                                 "id_number": customer["id_number"]}, partial=True))
        except ValidationFailed as exc:
            problem("id_number", exc.code, exc.message)
    consultant_id = department_id = None
    consultant = _text(raw.get("consultant"))
    if consultant:
        consultant_id = lookups.consultants.get(consultant)
        if consultant_id is None:
            problem("consultant", "unknown_consultant", _("没有名为「%(consultant)s」的置业顾问", consultant=consultant))
    department = _text(raw.get("department"))
    if department:
        department_id = lookups.departments.get(department)
        if department_id is None:
            problem("department", "unknown_department", _("没有名为「%(department)s」的部门", department=department))
    card = _card(raw, dates, consultant_id, customer.get("grade"), problem) if set(raw) & set(CARD_FIELDS) else None
    return CheckedRow(row_no, customer, consultant_id, department_id, card, problems)


def _card(raw: Mapping[str, Any], dates: Mapping[str, date | None], consultant_id: int | None, grade: str | None,
          problem) -> dict[str, Any] | None:
    data: dict[str, Any] = {}
    for key, (label, _unused) in CARD_CHOICES.items():
        text = _text(raw.get(key))
        if not text:
            continue
        code = _CHOICES[key].get(text.upper()) or _CHOICES[key].get(_plain(text))
        if code is None:
            problem(key, "invalid_choice", _("%(label)s的选项无效：%(text)s", label=label, text=text))
        else:
            data[key] = code
    scouting = _text(raw.get("scouting")).upper()
    if scouting not in _YES | _NO:
        problem("scouting", "invalid_choice", _("踩盘须填是或否：%(scouting)s", scouting=scouting))
    data["scouting"] = scouting in _YES
    data["visit_dates"] = [d for d in (dates.get(k) for k in ("visit_1", "visit_2", "visit_3")) if d is not None]
    data["consultant_id"] = consultant_id
    data["grade"] = grade if grade in ("A", "B", "C", "D") else None
    try:
        return parse_card(data)
    except ValidationFailed as exc:
        # A visit date that is no date was reported already; the card then merely lacks it.
        if not (exc.code == "first_visit_required" and any(k in raw and raw[k] not in (None, "") for k in
                                                            ("visit_1", "visit_2", "visit_3"))):
            problem("visit_1", exc.code, exc.message)
        return None


def mark_duplicates(rows: Sequence[CheckedRow], lookups: Lookups, customer_nos: Mapping[int, str]) -> None:
    """Mark each row whose phone or ID number is already a customer's, or an earlier row's, as a likely duplicate.

    Only rows without errors are marked (a row with errors is reported for its errors), and an earlier
    row counts only when it is itself ready: the first of twins is imported, the second is not.
    """
    seen_phones: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    for row in rows:
        if row.problems:
            continue
        phones = [p for p in (row.customer.get("phones") or "").split(",") if p]
        idn = row.customer.get("id_number")
        twin = next((lookups.phones[p] for p in phones if p in lookups.phones), None)
        if twin is None and idn:
            twin = lookups.id_numbers.get(idn)
        if twin is not None:
            row.duplicate_of = _("客户 %(value)s", value=customer_nos.get(twin, twin))
            continue
        earlier = next((seen_phones[p] for p in phones if p in seen_phones), None)
        if earlier is None and idn:
            earlier = seen_ids.get(idn)
        if earlier is not None:
            row.duplicate_of = _("第 %(earlier)s 行", earlier=earlier)
            continue
        for p in phones:
            seen_phones[p] = row.row_no
        if idn:
            seen_ids[idn] = row.row_no
