"""Change requests (客户数据变更申请表): filed with a reason, decided by the requester's head and, for
sensitive fields, a second step; applied at the last approval, atomically, if the customer has not
changed since the request was filed."""
from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.audit import log as audit
from archive_app.config import CORRECTABLE_FIELDS
from archive_app.corrections import history
from archive_app.corrections.models import ChangeRequest
from archive_app.errors import Conflict, NotFound, ValidationFailed
from archive_app.i18n import _, _l
from archive_app.intake import customers
from archive_app.retention import holds
from storage.base import BlobStore

STATUS_LABELS = {"pending_head": _l("待部门负责人审批"), "pending_second": _l("待复核（档案管理员或总经理）"),
                 "approved": _l("已批准并执行"), "rejected": _l("已驳回")}
REASON_LIMIT = 2000


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _reason(text: Any, label: str = _l("变更原因")) -> str:
    reason = str(text or "").strip()
    if not reason:
        raise ValidationFailed(_("请填写%(label)s", label=label), code="reason_required")
    if len(reason) > REASON_LIMIT:
        raise ValidationFailed(_("%(label)s过长（不超过 %(reason_limit)s 字）", label=label, reason_limit=REASON_LIMIT), code="field_too_long")
    return reason


def changes_of(req: ChangeRequest) -> dict[str, dict[str, Any]]:
    """The request's ``{field: {"before", "after"}}`` as filed (JSON values: dates as ISO text)."""
    return json.loads(req.changes)


def file_request(session: Session, actor: User, customer_id: int, data: Mapping[str, Any], *,
                 sensitive_fields: Iterable[str], now: datetime, ip: str = "") -> ChangeRequest:
    """File a change request: ``data`` is ``{"changes": {field: new value}, "reason": …}``.

    The values are validated as an edit would be; the request keeps the current values beside them.
    A head's own request starts at the second step (nobody approves their own request).
    """
    customer = customers.get_customer(session, actor, customer_id, "correction.request")
    holds.require_customer_changeable(session, customer, _("申请变更客户资料"), actor)
    proposed = data.get("changes")
    if not isinstance(proposed, dict) or not proposed:
        raise ValidationFailed(_("请至少填写一项要变更的内容"), code="no_change")
    unknown = sorted(set(proposed) - set(CORRECTABLE_FIELDS))
    if unknown:
        raise ValidationFailed(_("该字段不能通过变更申请修改：%(value)s", value='、'.join(unknown)), code="unknown_field")
    reason = _reason(data.get("reason"))
    values = customers.CustomerInput.parse(proposed, partial=True)
    current = customers.current_values(customer)
    pair = {"kind": values.get("kind", current["kind"]), "id_number": values.get("id_number", current["id_number"])}
    if "kind" in values or "id_number" in values:
        customers.CustomerInput.parse({**pair, "name": current["name"]}, partial=True)
    changes = {k: {"before": _jsonable(current[k]), "after": _jsonable(v)} for k, v in values.items() if current[k] != v}
    if not changes:
        raise ValidationFailed(_("申请的内容与现有资料相同"), code="no_change")
    sensitive = bool(changes.keys() & set(sensitive_fields))
    skip_head = policy.can(actor, "correction.skip_head")
    req = ChangeRequest(customer_id=customer.id, requester_id=actor.id, department_id=actor.department_id,
                        changes=json.dumps(changes, ensure_ascii=False, sort_keys=True, default=str), reason=reason,
                        sensitive=sensitive, status="pending_second" if skip_head else "pending_head",
                        created_at=now, decision_note="")
    session.add(req)
    session.flush()
    plain, personal = customers.split_personal(changes)
    audit.record_event(session, "correction.request", actor=actor, object_type="customer", object_id=customer.id,
                       ip=ip, now=now, details={"request_id": req.id, "fields": sorted(changes), "status": req.status,
                                                "changes": plain},
                       personal={"changes": personal, "reason": reason})
    return req


def get_request(session: Session, actor: User, request_id: int) -> ChangeRequest:
    """A change request ``actor`` may know of (``correction.view``), else NotFound as for a missing one."""
    req = session.get(ChangeRequest, request_id)
    if req is None or not policy.can(actor, "correction.view", req):
        raise NotFound(_("变更申请不存在"), code="change_request_not_found")
    return req


def view_request(session: Session, actor: User, request_id: int, *, ip: str = "") -> ChangeRequest:
    """``get_request`` for display: the look is audited (``correction.view``), as any read of customer data."""
    req = get_request(session, actor, request_id)
    audit.record_read(session, "correction.view", actor=actor, object_type="customer", object_id=req.customer_id,
                      ip=ip, details={"request_id": req.id})
    return req


def _listed(session: Session, actor: User, rows: list[ChangeRequest], which: str, ip: str) -> list[ChangeRequest]:
    audit.record_read(session, "correction.list", actor=actor, object_type="change_request_list", ip=ip,
                      details={"list": which, "requests": [r.id for r in rows]})
    return rows


def _step_action(req: ChangeRequest) -> str:
    if req.status == "pending_head":
        return "correction.approve_head"
    if req.status == "pending_second":
        return "correction.approve_second"
    raise Conflict(_("变更申请 #%(id)s 已%(value)s，不能再审批", id=req.id, value=STATUS_LABELS[req.status]), code="already_decided")


def _require_unchanged(req: ChangeRequest) -> None:
    current = customers.current_values(req.customer)
    moved = [f for f, v in changes_of(req).items() if _jsonable(current[f]) != v["before"]]
    if moved:
        names = "、".join(str(history.FIELD_LABELS.get(f, f)) for f in moved)
        raise Conflict(_("客户资料在申请提交后已被修改（%(names)s），不能按原申请执行，请驳回后重新申请", names=names),
                       code="customer_changed", details={"fields": moved})


def approve(session: Session, actor: User, request_id: int, *, note: str = "", now: datetime,
            store: BlobStore | None = None, ip: str = "") -> ChangeRequest:
    """Approve the step ``actor`` decides. At the last step the change is applied in this transaction,
    after checking the customer may be changed (no hold, not erased) and still has the values the
    request saw (else 409 ``customer_changed``); the history gets a line per field."""
    req = get_request(session, actor, request_id)
    policy.require(actor, _step_action(req), req, code="forbidden", message=_("您不能审批这件变更申请"))
    customer = req.customer
    holds.require_customer_changeable(session, customer, _("变更客户资料"), actor)
    _require_unchanged(req)
    note = str(note or "").strip()[:REASON_LIMIT]
    if req.status == "pending_head":
        req.head_id, req.head_decided_at = actor.id, now
        if req.sensitive:
            req.status = "pending_second"
            audit.record_event(session, "correction.approve", actor=actor, object_type="customer",
                               object_id=customer.id, ip=ip, now=now,
                               details={"request_id": req.id, "step": "head"}, personal={"note": note} if note else None)
            session.flush()
            return req
    else:
        req.second_id, req.second_decided_at = actor.id, now
    values = customers.CustomerInput.parse({f: v["after"] for f, v in changes_of(req).items()}, partial=True)
    changed = customers.change_fields(session, customer, values)
    req.status, req.decided_at, req.decision_note = "approved", now, note
    plain, personal = customers.split_personal(changed)
    audit.record_event(session, "correction.apply", actor=actor, object_type="customer", object_id=customer.id,
                       ip=ip, now=now, details={"request_id": req.id, "changes": plain,
                                                "personal_fields": sorted(personal)},
                       personal={"changes": personal, "reason": req.reason, "note": note})
    history.record_changes(session, customer, changed, source="request", requested_by=req.requester,
                           reason=req.reason, now=now, request=req, approved_by=req.head, second_by=req.second)
    customers.after_fields_changed(session, customer, changed, store, now=now)
    return req


def reject(session: Session, actor: User, request_id: int, *, note: str, now: datetime, ip: str = "") -> ChangeRequest:
    """Reject the request at the step ``actor`` decides; a reason is required. Nothing is changed."""
    req = get_request(session, actor, request_id)
    policy.require(actor, _step_action(req), req, code="forbidden", message=_("您不能审批这件变更申请"))
    note = _reason(note, _("驳回理由"))
    if req.status == "pending_head":
        req.head_id, req.head_decided_at = actor.id, now
    else:
        req.second_id, req.second_decided_at = actor.id, now
    req.status, req.decided_at, req.decision_note = "rejected", now, note
    audit.record_event(session, "correction.reject", actor=actor, object_type="customer", object_id=req.customer_id,
                       ip=ip, now=now, details={"request_id": req.id}, personal={"note": note})
    session.flush()
    return req


def my_requests(session: Session, actor: User, *, limit: int = 200, ip: str = "") -> list[ChangeRequest]:
    """The requests ``actor`` filed, newest first (the list is audited)."""
    return _listed(session, actor, list(session.scalars(
        select(ChangeRequest).where(ChangeRequest.requester_id == actor.id)
        .order_by(ChangeRequest.id.desc()).limit(limit))), "mine", ip)


def to_decide(session: Session, actor: User, *, limit: int = 200, ip: str = "") -> list[ChangeRequest]:
    """The requests waiting at a step ``actor`` decides, oldest first (the list is audited)."""
    return _listed(session, actor, list(session.scalars(
        select(ChangeRequest).where(policy.changes_to_decide(actor)).order_by(ChangeRequest.id).limit(limit))),
        "to_decide", ip)


def request_dict(viewer: User, req: ChangeRequest) -> dict[str, Any]:
    """The API's form of a request: phones and ID numbers as the customer page shows them to ``viewer``
    (whole for whoever handles the customer, masked otherwise)."""
    changes = {f: {"label": history.FIELD_LABELS.get(f, f),
                   "before": policy.shown_field(viewer, req.customer, f, history.as_text(v["before"])),
                   "after": policy.shown_field(viewer, req.customer, f, history.as_text(v["after"]))}
               for f, v in changes_of(req).items()}
    when = {k: (getattr(req, k).isoformat() if getattr(req, k) else None)
            for k in ("created_at", "head_decided_at", "second_decided_at", "decided_at")}
    return {"id": req.id, "customer_id": req.customer_id, "customer": policy.customer_label(viewer, req.customer),
            "status": req.status, "status_label": STATUS_LABELS[req.status], "sensitive": req.sensitive,
            "changes": changes, "reason": req.reason, "requester": req.requester.display_name,
            "head": req.head.display_name if req.head else None,
            "second": req.second.display_name if req.second else None,
            "decision_note": req.decision_note, **when}


__all__ = ["file_request", "approve", "reject", "get_request", "view_request", "my_requests", "to_decide", "request_dict",
           "changes_of", "STATUS_LABELS"]
