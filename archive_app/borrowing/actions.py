"""What the borrowing pages and the API both do: parse the submitted values, then call the services
with the session, settings and time of the running app.

Pages render what these return; the API turns it into JSON (``loan_dict``, ``paper_dict``).
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response
from sqlalchemy import select

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.borrowing import loans as svc
from archive_app.borrowing import register as register_svc
from archive_app.borrowing.models import LoanRequest, PaperLoan
from archive_app.clock import utc_iso
from archive_app.errors import ValidationFailed, in_range
from archive_app.extensions import db
from archive_app.http import attachment
from archive_app.i18n import _
from archive_app.wiring import loan_settings, timezone_name
from archive_app.wiring import now as utc_now


def _int(value: Any, label: str, code: str = "invalid_number") -> int:
    if isinstance(value, bool):
        raise ValidationFailed(_("%(label)s须为整数", label=label), code=code)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationFailed(_("%(label)s须为整数", label=label), code=code) from None
    return in_range(number, label, minimum=0 if code == "invalid_pages" else 1)


def _ids(value: Any) -> list[int]:
    if value in (None, "", []):
        return []
    if isinstance(value, str):
        value = [v for v in value.replace("，", ",").split(",") if v.strip()]
    if not isinstance(value, (list, tuple)):
        raise ValidationFailed(_("record_ids 须为档案编号列表"), code="invalid_record_ids")
    return [_int(v, _("档案编号"), "invalid_record_ids") for v in value]


def parse_window_end(value: Any, tz: str) -> datetime | None:
    """ISO date (the end of that local day) or ISO datetime (naive = local time); empty = default."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValidationFailed(_("借阅期限格式不正确"), code="invalid_window")
    text = value.strip()
    try:
        if len(text) == 10:
            return svc.end_of_day(datetime.combine(date.fromisoformat(text), datetime.min.time(),
                                                   tzinfo=ZoneInfo(tz)), tz)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(_("借阅期限格式不正确（例如 2026-11-27 或 2026-11-27T18:00）"),
                               code="invalid_window") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(tz))


def create_loan(user: User, data: Mapping[str, Any]) -> LoanRequest:
    """File a borrowing request from submitted values (one path for web and API).

    The service checks every record and file named against the policy (department, 密级, destroyed).
    """
    policy.require(user, "loan.request")
    record_ids = _ids(data.get("record_ids"))
    customer_id = data.get("customer_id")
    customer_id = _int(customer_id, _("客户编号")) if customer_id not in (None, "") else None
    settings = loan_settings()
    return svc.create_request(db.session, user, kind=str(data.get("kind") or ""),
                              purpose=str(data.get("purpose") or ""), settings=settings, now=utc_now(),
                              record_ids=record_ids, customer_id=customer_id,
                              window_end=parse_window_end(data.get("window_end"), settings.timezone),
                              reason=str(data.get("reason") or ""))


def approve_loan(user: User, loan_id: int, reason: str = "") -> LoanRequest:
    return svc.approve(db.session, user, loan_id, settings=loan_settings(), now=utc_now(), reason=reason)


def reject_loan(user: User, loan_id: int, reason: str) -> LoanRequest:
    return svc.reject(db.session, user, loan_id, reason=reason, settings=loan_settings(), now=utc_now())


def revoke_loan(user: User, loan_id: int, reason: str = "") -> LoanRequest:
    return svc.revoke(db.session, user, loan_id, reason=reason, now=utc_now())


def hand_out(user: User, data: Mapping[str, Any]) -> PaperLoan:
    policy.require(user, "paper.manage")
    return svc.hand_out(db.session, user, _int(data.get("request_id"), _("借阅申请编号")),
                        _int(data.get("record_id"), _("档案编号")),
                        pages=_int(data.get("pages"), _("借出页数"), "invalid_pages"), now=utc_now())


def return_paper(user: User, record_id: int, data: Mapping[str, Any]) -> PaperLoan:
    policy.require(user, "paper.manage")
    return svc.return_paper(db.session, user, record_id,
                            pages_back=_int(data.get("pages_back"), _("归还页数"), "invalid_pages"), now=utc_now(),
                            condition_note=str(data.get("condition_note") or ""))


def my_loans(user: User) -> list[LoanRequest]:
    return list(db.session.scalars(select(LoanRequest).where(LoanRequest.requester_id == user.id)
                                   .order_by(LoanRequest.id.desc()).limit(200)))


def queue_for(user: User) -> list[LoanRequest]:
    return svc.approval_queue(db.session, user, loan_settings(), utc_now())


def overdue(user: User) -> list[PaperLoan]:
    policy.require(user, "paper.manage")
    return svc.overdue_paper_loans(db.session, utc_now())


def _record_ref(viewer: User, record: Any) -> dict[str, Any]:
    """A record named in a JSON answer, through the policy's projection (null 档号 and 题名 when hidden)."""
    s = policy.shown_record(viewer, record)
    return {"id": s.id, "visible": s.visible, "archival_code": s.archival_code if s.visible else None,
            "title": s.title if s.visible else None}


def loan_dict(req: LoanRequest, viewer: User) -> dict[str, Any]:
    """A request as JSON for ``viewer``: its records as far as the viewer may see them."""
    return {"id": req.id, "request_no": req.request_no, "kind": req.kind, "kind_label": svc.KIND_LABELS[req.kind],
            "purpose": req.purpose, "reason": req.reason_for_long_window, "status": req.status,
            "status_label": svc.STATUS_LABELS[req.status], "status_reason": req.status_reason,
            "requester": {"id": req.requester_id, "username": req.requester.username,
                          "display_name": req.requester.display_name},
            "customer_id": req.customer_id, "needs_gm": req.needs_gm,
            "window_start": utc_iso(req.window_start), "window_end": utc_iso(req.window_end),
            "created_at": utc_iso(req.created_at), "decided_at": utc_iso(req.decided_at),
            "records": [_record_ref(viewer, i.record) for i in req.items],
            "approvals": [{"step": a.step, "decision": a.decision, "reason": a.reason,
                           "approver": a.approver.username, "at": utc_iso(a.at)} for a in req.approvals]}


def paper_dict(p: PaperLoan, viewer: User) -> dict[str, Any]:
    """A paper original out (or back) as JSON for ``viewer``; its 档号 only if the viewer may see it."""
    return {"id": p.id, "record_id": p.record_id, "archival_code": _record_ref(viewer, p.record)["archival_code"],
            "request_id": p.request_id, "request_no": p.request.request_no, "holder": p.holder.username,
            "pages_out": p.pages_out, "out_at": utc_iso(p.out_at), "due_at": utc_iso(p.due_at),
            "returned_at": utc_iso(p.returned_at), "pages_back": p.pages_back, "condition_note": p.condition_note,
            "status": p.status}


def register_download(user: User, fmt: str, args: Mapping[str, str], ip: str) -> Response:
    """The 查阅登记表 export for the current query string (web and API share it); the service audits it."""
    export = register_svc.export_register(db.session, user, register_svc.parse_filter(args), fmt,
                                          tz=timezone_name(), now=utc_now(), ip=ip)
    return attachment(export.content, export.mimetype, export.filename, export.ascii_filename)
