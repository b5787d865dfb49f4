"""A register checked (dry run) and imported: every row's problems first, then all good rows in one go.

``check_register`` writes nothing: it reads the file, maps the headers (or takes the mapping given),
checks every row and marks likely duplicates. ``run_import`` writes the ready rows of such a check
in the caller's transaction (the caller commits once: all rows or none), one audit entry with the
counts, and the stored import report.

Rows with errors are never written. If there are any, the import is refused unless the archivist
says to leave them aside (``skip_errors``): ten years of registers are better brought in with the
bad rows fixed in the file and the import run again than half-imported by accident. Likely duplicates
(same phone or ID number as a customer on file or an earlier row) are never written either: one
customer, one file (一户一档); the report lists them with their twin so they can be merged by hand.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import case, insert, select, update
from sqlalchemy.orm import Session

from archive_app import policy
from archive_app.accounts.models import Department, User
from archive_app.audit import log as audit
from archive_app.errors import ValidationFailed
from archive_app.finding import index_feed
from archive_app.i18n import _
from archive_app.intake.models import Customer
from archive_app.intake.numbering import customer_no_for
from archive_app.registers import headers, sheets
from archive_app.registers.models import RegisterImport
from archive_app.registers.rows import CheckedRow, Lookups, check_row, mark_duplicates
from archive_app.visits.choices import CARD_CHOICES
from archive_app.visits.follow_ups import FollowUpSettings, add_days
from archive_app.visits.models import CardVisit, FollowUp, GradeChange, VisitorCard

GRADE_REASON = "登记表导入"
BATCH = 1000


@dataclass
class Check:
    """A register as checked: its headers and their fields, and every data row with its problems."""

    filename: str
    kind: str
    header_row: int
    headers: list[str]
    mapping: list[str | None]
    rows: list[CheckedRow]

    @property
    def ready(self) -> list[CheckedRow]:
        return [r for r in self.rows if r.ready]

    @property
    def with_errors(self) -> list[CheckedRow]:
        return [r for r in self.rows if r.problems]

    @property
    def duplicates(self) -> list[CheckedRow]:
        return [r for r in self.rows if not r.problems and r.duplicate_of]

    def summary(self) -> str:
        """The one line the command prints and the page shows."""
        return (f"{len(self.ready)} rows ready, {len(self.with_errors)} rows with errors, "
                f"{len(self.duplicates)} duplicates")

    def problem_lines(self) -> list[dict[str, Any]]:
        """Every problem, row by row: errors, then the duplicate mark."""
        out = []
        for row in self.rows:
            out += [{"row": row.row_no, "kind": "error", "field": p.field, "code": p.code, "message": p.message}
                    for p in row.problems]
            if not row.problems and row.duplicate_of:
                out.append({"row": row.row_no, "kind": "duplicate", "field": _("联系电话/身份证号码"),
                            "code": "likely_duplicate", "message": _("可能重复：与%(duplicate_of)s的电话或身份证号码相同", duplicate_of=row.duplicate_of)})
        return out


def lookups(session: Session) -> tuple[Lookups, dict[int, str]]:
    """Consultants and departments by name, and every phone and ID number on file (with customer numbers)."""
    consultants: dict[str, int] = {}
    for user in session.scalars(select(User).where(policy.users_who_may("customer.serve"))):
        consultants.setdefault(user.username, user.id)
        if user.display_name:
            consultants.setdefault(user.display_name, user.id)
    departments = dict(session.execute(select(Department.name, Department.id)).all())
    found = Lookups(consultants=consultants, departments=departments)
    numbers: dict[int, str] = {}
    for cid, no, phones, idn in session.execute(
            select(Customer.id, Customer.customer_no, Customer.phones, Customer.id_number)):
        numbers[cid] = no or str(cid)
        for phone in (phones or "").split(","):
            if phone:
                found.phones.setdefault(phone, cid)
        if idn:
            found.id_numbers.setdefault(idn.upper(), cid)
    return found, numbers


def check_register(session: Session, filename: str, data: bytes,
                   mapping: Sequence[str | None] | None = None) -> Check:
    """Read and check a register without writing anything. ``mapping`` (one field or None per column)
    replaces the detected one, as corrected on the upload page."""
    table = sheets.read_table(filename, data)
    if not table:
        raise ValidationFailed(_("登记表是空的"), code="empty_register")
    header_row, detected = headers.detect(table)
    head = ["" if h is None else str(h).strip() for h in table[header_row]]
    if mapping is not None:
        unknown = [f for f in mapping if f and f not in headers.FIELDS]
        if unknown:
            raise ValidationFailed(_("未知字段：%(value)s", value=unknown[0]), code="unknown_field")
        chosen = [f or None for f in mapping][:len(head)] + [None] * max(len(head) - len(mapping), 0)
        taken = [f for f in chosen if f]
        if len(taken) != len(set(taken)):
            raise ValidationFailed(_("同一字段只能对应一列"), code="duplicate_mapping")
    else:
        chosen = detected
    if "name" not in chosen:
        raise ValidationFailed(_("未识别到客户姓名列（请在对应关系中指定）"), code="name_column_missing")
    found, numbers = lookups(session)
    rows = [check_row(header_row + 2 + i, cells, chosen, found)
            for i, cells in enumerate(table[header_row + 1:]) if any(v not in (None, "") for v in cells)]
    mark_duplicates(rows, found, numbers)
    return Check(filename, headers.register_kind(chosen), header_row, head, list(chosen), rows)


def run_import(session: Session, actor: User, check: Check, *, skip_errors: bool, now: datetime,
               settings: FollowUpSettings, ip: str = "") -> RegisterImport:
    """Write the ready rows of ``check`` (customers with their 客户号, grades, visitor cards, first
    follow-ups), the audit entry and the report. Refused (``register_has_errors``) when rows have
    errors and ``skip_errors`` is not given. The caller commits."""
    policy.require(actor, "register.import")
    if check.with_errors and not skip_errors:
        raise ValidationFailed(_("登记表有 %(count)s 行错误：请修改后重新导入，或选择跳过错误行", count=len(check.with_errors)),
                               code="register_has_errors")
    ready = check.ready
    # Core inserts with RETURNING, many rows a statement: ten thousand ORM objects through the unit of work
    # took most of the 30 s allowed (bench/import_registers.py). The search index, fed from flushed Customer
    # objects, does not see them: they are noted for it, so a customer imported is found by search at once.
    customer_ids = _insert_customers(session, actor, ready, now)
    index_feed.note_records(session, [], customer_ids)
    _number(session, [(cid, row.customer.get("grade") or None) for row, cid in zip(ready, customer_ids, strict=True)])
    with_cards = [(row, cid) for row, cid in zip(ready, customer_ids, strict=True) if row.card is not None]
    card_ids = _ids(session, VisitorCard, [
        {"customer_id": cid, "record_id": None, "consultant_id": row.card["consultant_id"], "grade": row.card["grade"],
         "scouting": row.card["scouting"], "notes": row.card["notes"], "created_by_id": actor.id, "created_at": now,
         **{f: row.card[f] for f in CARD_CHOICES}} for row, cid in with_cards])
    visits = [{"card_id": card_id, "visit_no": n, "visited_on": day}
              for (row, _unused), card_id in zip(with_cards, card_ids, strict=True)
              for n, day in enumerate(row.card["visit_dates"], 1)]
    card_of = {cid: (row.card, card_id) for (row, cid), card_id in zip(with_cards, card_ids, strict=True)}
    changes, follows = [], []
    for row, cid in zip(ready, customer_ids, strict=True):
        card, card_id = card_of.get(cid, (None, None))
        grade = row.customer.get("grade")
        if grade:
            # The customer's first grade: the start of its history (no downgrade, so no reason needed).
            changes.append({"customer_id": cid, "from_grade": None, "to_grade": grade, "changed_at": now,
                            "changed_on": card["visit_dates"][-1] if card else now.date(), "changed_by_id": actor.id,
                            "reason": GRADE_REASON, "card_id": card_id})
        if card is not None:
            # A new customer has no follow-ups yet: the first is due ``first_days`` after the first visit.
            follows.append({"customer_id": cid, "assignee_id": card["consultant_id"] or row.consultant_id,
                            "due_on": add_days(card["visit_dates"][0], settings.first_days), "card_id": card_id,
                            "created_at": now})
    for model, values in ((CardVisit, visits), (GradeChange, changes), (FollowUp, follows)):
        _ids(session, model, values)
    problems = check.problem_lines()
    report = RegisterImport(
        filename=check.filename[:255], kind=check.kind, created_at=now, created_by_id=actor.id,
        total_rows=len(check.rows), ready_rows=len(ready), error_rows=len(check.with_errors),
        duplicate_rows=len(check.duplicates), customers_created=len(customer_ids), cards_created=len(card_ids),
        skipped_errors=bool(skip_errors and check.with_errors),
        mapping_json=json.dumps([{"header": h, "field": f} for h, f in zip(check.headers, check.mapping)],
                                ensure_ascii=False, default=str),
        problems_json=json.dumps(problems, ensure_ascii=False, default=str))
    session.add(report)
    session.flush()
    # Counts and ids only: the rows' names and numbers stay in the customers' files and the report.
    audit.record_event(session, "register.import", actor=actor, object_type="register_import", object_id=report.id,
                       ip=ip, now=now, details={
                           "kind": check.kind, "rows": len(check.rows), "ready": len(ready),
                           "errors": len(check.with_errors), "duplicates": len(check.duplicates),
                           "customers_created": len(customer_ids), "cards_created": len(card_ids),
                           "skipped_errors": report.skipped_errors,
                           "customer_ids": [customer_ids[0], customer_ids[-1]] if customer_ids else []},
                       personal={"filename": check.filename})
    return report


def _number(session: Session, customers: list[tuple[int, str | None]]) -> None:
    """Give new customers their 客户号 (``numbering.customer_no_for``) and first grade: a thousand rows an UPDATE
    (an executemany is one round trip a row with pg8000)."""
    for start in range(0, len(customers), BATCH):
        batch = customers[start:start + BATCH]
        ids = [cid for cid, _ in batch]
        graded = {cid: grade for cid, grade in batch if grade}
        values: dict[str, Any] = {"customer_no": case({cid: customer_no_for(cid) for cid in ids}, value=Customer.id)}
        if graded:
            values["grade"] = case(graded, value=Customer.id, else_=Customer.grade)
        session.execute(update(Customer).where(Customer.id.in_(ids)).values(**values)
                        .execution_options(synchronize_session=False))


def _ids(session: Session, model: type, values: list[dict[str, Any]]) -> list[int]:
    """Insert ``values`` as rows of ``model``; their ids in the same order. RETURNING makes SQLAlchemy send
    many rows a statement on every driver (insertmanyvalues)."""
    if not values:
        return []
    return list(session.scalars(insert(model).returning(model.id, sort_by_parameter_order=True), values))


def _insert_customers(session: Session, actor: User, rows: list[CheckedRow], now: datetime) -> list[int]:
    default_department = actor.department_id
    blank = {"kind": "person", "phones": "", "id_number": None, "business_type": "购房", "project": "", "unit": "",
             "address": "", "notes": "", "deal_closed_on": None, "contract_ended_on": None, "last_contact_on": None}
    values = []
    for row in rows:
        fields = {k: v for k, v in row.customer.items() if k != "grade"}
        values.append(blank | fields | {"created_by_id": actor.id, "consultant_id": row.consultant_id,
                                        "department_id": row.department_id or default_department,
                                        "created_at": now, "updated_at": now})
    return _ids(session, Customer, values)
