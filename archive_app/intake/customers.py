"""Create, change and find customers' files (一户一档)."""
from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any, Mapping

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from archive_app import policy
from archive_app.accounts import users as accounts
from archive_app.accounts.models import User
from archive_app.audit import log as audit
from archive_app.clock import utcnow
from archive_app.errors import NotFound, ValidationFailed, in_range
from archive_app.i18n import _, _l
from archive_app.intake import record_departments
from archive_app.intake.models import PERSONAL_FIELDS, Customer
from archive_app.intake.numbering import customer_no_for
from archive_app.retention import holds, upkeep
from archive_app.vocabulary import BUSINESS_TYPES, CUSTOMER_KINDS, GRADES
from storage.base import BlobStore

_PHONE = re.compile(r"^\+?\d{5,20}$")
_ID_CARD = re.compile(r"^\d{17}[\dXx]$")
_USCC = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_card_valid(number: str) -> bool:
    """Check an 18-digit 居民身份证号码 including its ISO 7064 check digit."""
    if not _ID_CARD.match(number):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == number[17].upper()


@dataclass
class CustomerInput:
    """Validated customer fields, parsed from a form or a JSON body."""

    kind: str = "person"
    name: str = ""
    phones: str = ""
    id_number: str | None = None
    business_type: str = "购房"
    grade: str | None = None
    consultant_id: int | None = None
    department: str | None = None
    project: str = ""
    unit: str = ""
    address: str = ""
    notes: str = ""
    # Retention clocks start from these (成交日期, 合同终止日期, 最后联系日期).
    deal_closed_on: date | None = None
    contract_ended_on: date | None = None
    last_contact_on: date | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
        """Return only the fields present (all of them unless ``partial``), validated and normalised."""
        out: dict[str, Any] = {}
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise ValidationFailed(_("未知字段：%(key)s", key=key), code="unknown_field")
        for f in fields(cls):
            if partial and f.name not in data:
                continue
            raw = data.get(f.name, f.default)
            out[f.name] = raw.strip() if isinstance(raw, str) else raw
        if "kind" in out and out["kind"] not in CUSTOMER_KINDS:
            raise ValidationFailed(_("客户类别须为个人或企业"), code="invalid_kind")
        if "name" in out and not out["name"]:
            raise ValidationFailed(_("请填写客户名称"), code="name_required")
        if "name" in out and len(out["name"]) > 200:
            raise ValidationFailed(_("客户名称过长"), code="name_too_long")
        if "phones" in out:
            out["phones"] = _normalise_phones(out["phones"])
        for key, (label, limit) in TEXT_LIMITS.items():
            if isinstance(out.get(key), str) and len(out[key]) > limit:
                raise ValidationFailed(_("%(label)s过长（不超过 %(limit)s 字）", label=label, limit=limit), code="field_too_long")
        if "business_type" in out and out["business_type"] not in BUSINESS_TYPES:
            raise ValidationFailed(_("业务类型须为购房、租赁或投资"), code="invalid_business_type")
        if "grade" in out:
            out["grade"] = (out["grade"] or None) and str(out["grade"]).upper()
            if out["grade"] is not None and out["grade"] not in GRADES:
                raise ValidationFailed(_("客户等级须为 A/B/C/D"), code="invalid_grade")
        if "consultant_id" in out:
            out["consultant_id"] = _optional_int(out["consultant_id"], _("置业顾问"))
        if "id_number" in out:
            out["id_number"] = (out["id_number"] or None) and str(out["id_number"]).upper()
        for key, label in EVENT_FIELDS.items():
            if key in out:
                out[key] = parse_date(out[key], label)
        kind = out.get("kind", "person")
        idn = out.get("id_number")
        if idn and kind == "person" and not id_card_valid(idn):
            raise ValidationFailed(_("身份证号码无效（须为 18 位且校验位正确）"), code="invalid_id_number")
        if idn and kind == "company" and not _USCC.match(idn):
            raise ValidationFailed(_("统一社会信用代码无效（须为 18 位）"), code="invalid_credit_code")
        return out


# The columns' widths: a longer value is refused here, never cut off or failed by the database.
TEXT_LIMITS = {"phones": (_l("电话"), 200), "department": (_l("部门"), 100), "project": (_l("楼盘"), 100), "unit": (_l("房号"), 100),
               "address": (_l("地址"), 300), "notes": (_l("备注"), 20_000)}
EVENT_FIELDS = {"deal_closed_on": _l("成交日期"), "contract_ended_on": _l("合同终止日期"), "last_contact_on": _l("最后联系日期")}


def parse_date(value: Any, label: str) -> date | None:
    """An ISO date (empty: None) or ValidationFailed ``invalid_date`` naming ``label``."""
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationFailed(_("%(label)s格式不正确（例如 2026-11-25）", label=label), code="invalid_date") from None


def _optional_int(value: Any, label: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationFailed(_("%(label)s格式不正确", label=label), code="invalid_number") from None
    return in_range(number, label)


def _normalise_phones(value: Any) -> str:
    items = value if isinstance(value, list) else re.split(r"[,，;；\n]+", str(value or ""))
    phones = []
    for item in items:
        digits = re.sub(r"[\s-]", "", str(item))
        if not digits:
            continue
        if not _PHONE.match(digits):
            raise ValidationFailed(_("电话号码格式不正确：%(item)s", item=item), code="invalid_phone")
        phones.append(digits)
    return ",".join(dict.fromkeys(phones))


def _snapshot(c: Customer) -> dict[str, Any]:
    return {f.name: getattr(c, f.name) for f in fields(CustomerInput) if f.name != "department"} | {
        "department": c.department.name if c.department else None}


def _split(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what is not personal, what is): the audit log keeps the second apart, erasable."""
    return ({k: v for k, v in values.items() if k not in PERSONAL_FIELDS},
            {k: v for k, v in values.items() if k in PERSONAL_FIELDS})


split_personal = _split


def _apply(session: Session, customer: Customer, values: dict[str, Any]) -> None:
    for key, value in values.items():
        if key == "department":
            customer.department = accounts.get_or_create_department(session, value) if value else None
        elif key == "consultant_id" and value is not None and session.get(User, value) is None:
            # Like any id that names nothing: 404, as for a missing record or request.
            raise NotFound(_("置业顾问不存在"), code="unknown_consultant")
        else:
            setattr(customer, key, value)


def create_customer(session: Session, actor: User, data: Mapping[str, Any], ip: str = "",
                    now: datetime | None = None) -> Customer:
    """Open a new customer file. The 客户号 is derived from the id, once. A grade given at opening is
    the first line of the customer's grade history (dated ``now``'s day in ``timezone``)."""
    policy.require(actor, "customer.create")
    values = CustomerInput.parse(data)
    grade = values.pop("grade", None)
    if not values.get("department") and actor.department is not None:
        values["department"] = actor.department.name
    customer = Customer(created_by_id=actor.id)
    _apply(session, customer, values)
    session.add(customer)
    session.flush()
    customer.customer_no = customer_no_for(customer.id)
    if grade is not None:
        from archive_app.visits.grades import set_grade

        moment = now or utcnow()
        set_grade(session, actor, customer, grade, reason=_("建档时评定"), now=moment, changed_on=moment.date(), ip=ip)
    plain, personal = _split(_snapshot(customer))
    audit.record_event(session, "customer.create", actor=actor, object_type="customer", object_id=customer.id,
                       ip=ip, details={"after": plain}, personal={"after": personal})
    session.flush()
    return customer


def get_customer(session: Session, actor: User, customer_id: int, action: str = "customer.view") -> Customer:
    """Load a customer the actor may act on, or raise NotFound/Forbidden."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(_("客户档案不存在"), code="customer_not_found")
    policy.require(actor, action, customer)
    return customer


def view_customer(session: Session, actor: User, customer_id: int, ip: str = "") -> Customer:
    """Load a customer's file for display and write the view to the audit log."""
    customer = get_customer(session, actor, customer_id)
    audit.record_read(session, "customer.view", actor=actor, object_type="customer", object_id=customer.id, ip=ip,
                       details={"customer_no": customer.customer_no})
    return customer


def reveal_pii(session: Session, actor: User, customer_id: int, ip: str = "", *, via: str = "page") -> Customer:
    """A customer whose full phone numbers and ID number ``actor``, who does not handle the customer, may
    see now; each look is audited (``customer.pii_reveal``; ``via`` says where they were shown: the page,
    the edit form, the API). Those who handle the customer see them whole anyway (``policy.shows_whole``)."""
    customer = get_customer(session, actor, customer_id, "customer.pii_reveal")
    audit.record_read(session, "customer.pii_reveal", actor=actor, object_type="customer", object_id=customer.id,
                       ip=ip, details={"customer_no": customer.customer_no, "fields": ["phones", "id_number"],
                                       "via": via})
    session.flush()
    return customer


def customer_actions(session: Session, actor: User, customer: Customer) -> dict[str, bool]:
    """Which buttons the customer page offers ``actor``: the policy's answer and the file's state.

    The services refuse the same things (``customer_erased``, ``customer_on_hold``); the page
    does not offer what would only be refused.
    """
    in_force = holds.customer_holds_in_force(session, customer.id)
    alive = not customer.erased
    return {
        "upload": alive and policy.can(actor, "record.upload", customer),
        "borrow": alive and policy.can(actor, "loan.request", customer),
        "edit": alive and not in_force and policy.can(actor, "customer.edit", customer),
        "hold": alive and policy.can(actor, "hold.place") and not any(h.customer_id for h in in_force),
        "request_change": alive and not in_force and policy.can(actor, "correction.request", customer),
        "verify": alive and policy.can(actor, "verification.mark", customer),
    }


def update_customer(session: Session, actor: User, customer_id: int, data: Mapping[str, Any],
                    ip: str = "", store: BlobStore | None = None, *, now: datetime) -> Customer:
    """An archivist's direct correction of a customer's data: needs a ``reason`` (in ``data``); the audit
    entry keeps the before and after values of what changed, and the change history (变更记录) a line per field.

    When an event date changes, the records' disposal dates are recomputed and, given the
    ``store``, its locks on their files follow after the commit.
    """
    # The corrections room keeps the history; it builds on this one, so it is imported when used.
    from archive_app.corrections import history

    customer = get_customer(session, actor, customer_id, "customer.edit")
    holds.require_customer_changeable(session, customer, _("修改客户资料"), actor)
    values = dict(data)
    reason = str(values.pop("reason", "") or "").strip()
    if not reason:
        raise ValidationFailed(_("请填写修改原因（变更记录须写明原因）"), code="reason_required")
    if len(reason) > 2000:
        raise ValidationFailed(_("修改原因过长（不超过 2000 字）"), code="field_too_long")
    parsed = CustomerInput.parse(values, partial=True)
    if "grade" in parsed and parsed["grade"] != customer.grade:
        # The grade has its own history (who, when, why; a downgrade needs its reason): visits.grades.
        raise ValidationFailed(_("客户等级请在客户页的「等级变更」中修改（降级须填写原因）"), code="grade_via_history")
    changed = change_fields(session, customer, parsed)
    if changed:
        plain, personal = _split(changed)
        # Which personal fields changed is kept in the chain; their values (and the reason, free text
        # about the customer) only in the erasable part.
        audit.record_event(session, "customer.update", actor=actor, object_type="customer",
                           object_id=customer.id, ip=ip,
                           details={"changes": plain, "personal_fields": sorted(personal)},
                           personal={"changes": personal, "reason": reason})
        history.record_changes(session, customer, changed, source="correction", requested_by=actor,
                               reason=reason, now=now)
    after_fields_changed(session, customer, changed, store, now=now)
    return customer


def current_values(customer: Customer) -> dict[str, Any]:
    """A customer's fields as ``CustomerInput`` names them (department by name)."""
    return _snapshot(customer)


def change_fields(session: Session, customer: Customer, values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Apply parsed ``values`` to ``customer``; returns ``{field: {"before", "after"}}`` of what really changed.

    No policy and no audit here: the caller decided (a direct correction, an approved change request),
    writes both, then calls ``after_fields_changed``. Kind and ID number are validated together.
    """
    if "id_number" in values or "kind" in values:
        # Re-validate the pair together so a kind change cannot leave a mismatched number.
        CustomerInput.parse({"kind": values.get("kind", customer.kind),
                             "id_number": values.get("id_number", customer.id_number), "name": customer.name},
                            partial=True)
    before = _snapshot(customer)
    _apply(session, customer, values)
    after = _snapshot(customer)
    session.flush()
    if before["department"] != after["department"]:
        # The records carry their customer's department (for the department's report counts).
        record_departments.follow_customer(session, customer)
    return {k: {"before": before[k], "after": after[k]} for k in after if before[k] != after[k]}


def after_fields_changed(session: Session, customer: Customer, changed: Mapping[str, Any],
                         store: BlobStore | None = None, *, now: datetime) -> None:
    """Once the change and its audit entry are in the session: when an event date changed, recompute the
    records' disposal dates (this commits, the change with it) and, given ``store``, relock their files."""
    if changed.keys() & EVENT_FIELDS.keys():
        upkeep.after_change(session, store, now=now, customer_ids=[customer.id])
    else:
        session.flush()


def search_customers(session: Session, actor: User, *, q: str = "", business_type: str = "", grade: str = "",
                     project: str = "", page: int = 1, per_page: int = 20,
                     ip: str = "", reads: Session | None = None) -> tuple[list[Customer], int]:
    """Customers the actor may see, matching name/phone/ID/客户号 text and filters; newest first.

    ``reads`` (a read replica's session, see ``replica_reads``) counts, filters and pages; the page's
    customers are then loaded from ``session`` (the primary) and the policy decides again on them,
    so a replica behind the primary never shows a customer the actor may no longer see.

    Every list or search is written to the audit log (``customer.search``: query, filters, count).
    """
    stmt = policy.visible_customers(actor, select(Customer))
    q = q.strip()
    if q:
        like = f"%{_escape_like(q)}%"
        stmt = stmt.where(or_(Customer.name.like(like, escape="\\"), Customer.phones.like(like, escape="\\"),
                              Customer.id_number.like(like, escape="\\"),
                              Customer.customer_no.like(like, escape="\\")))
    if business_type:
        stmt = stmt.where(Customer.business_type == business_type)
    if grade:
        stmt = stmt.where(Customer.grade == grade)
    if project:
        stmt = stmt.where(Customer.project.like(f"%{_escape_like(project)}%", escape="\\"))
    reads = session if reads is None else reads
    total = reads.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = max(page, 1)
    stmt = stmt.order_by(Customer.id.desc()).limit(per_page).offset((page - 1) * per_page)
    if reads is session:
        rows = session.scalars(stmt).all()
    else:
        ids = list(reads.scalars(stmt.with_only_columns(Customer.id)))
        now_rows = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(ids)))}
        rows = [now_rows[i] for i in ids if i in now_rows and policy.can(actor, "customer.view", now_rows[i])]
    filters = {k: v for k, v in (("business_type", business_type), ("grade", grade), ("project", project)) if v}
    audit.record_read(session, "customer.search", actor=actor, object_type="customer_list", ip=ip,
                       details={"filters": filters, "page": page, "total": total,
                                "customers": [c.id for c in rows]},
                       # A customer search is typed with names, phones and ID numbers: keep the words
                       # in the erasable part of the entry, out of the chained bytes.
                       personal={"query": q} if q else None)
    session.flush()
    return list(rows), total


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def customer_dict(c: Customer, viewer: User | None, *, revealed: bool = False) -> dict[str, Any]:
    """The API representation of a customer for ``viewer``: phones and ID number whole for whoever handles
    the customer, masked for anyone else unless ``revealed`` (only after ``reveal_pii`` allowed and audited it)."""
    snap = {k: v.isoformat() if isinstance(v, date) else v for k, v in _snapshot(c).items()}
    shown = policy.shown_personal(viewer, c, revealed=revealed)
    snap["phones"], snap["id_number"] = shown.phones, shown.id_number
    return {"id": c.id, "customer_no": c.customer_no, **snap,
            "created_at": c.created_at.isoformat(), "updated_at": c.updated_at.isoformat()}


__all__ = ["CustomerInput", "create_customer", "update_customer", "change_fields", "after_fields_changed", "current_values", "split_personal", "get_customer", "view_customer", "search_customers",
           "customer_dict", "id_card_valid", "reveal_pii"]
