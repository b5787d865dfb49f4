"""Borrowing (借阅): requests, the approval chain, access windows, paper originals, handovers.

Plain functions over a SQLAlchemy session. Each takes the acting user and ``now`` (an aware
datetime: time is injected, never read here), writes an audit entry for every change in the same
transaction, and leaves the commit to the caller's unit of work (one per request or job).
Errors are DomainError subclasses with stable codes and Chinese messages.

Every status change of a request goes through ``TRANSITIONS`` (one table, below): an action that
is not listed for the request's current status is refused the same way everywhere.

Rules (DOMAIN.md, "Rules the company already has", and the borrowing issue):

* kinds: ``view`` 查阅 (online), ``download`` 复制/调用 (a copy leaves normal use), ``original``
  借出原件 (paper). The window defaults to the end of the request day in the configured time zone;
  anything longer needs a reason and may not exceed ``max_days``.
* approvals: the requester's department head always; the general manager as well for downloads,
  for records of 密级 秘密 (2) or above, and for paper originals of 交易状况 (part 3) records.
  Nobody approves their own request: a department head's own request, and the general manager's
  (who has no department), go to the general manager step alone (so another general manager or
  deputy holding that role decides the general manager's own). Undecided requests expire after ``decision_hours``.
* a grant covers only the records named in the request, only inside its window, and only the
  actions its kind permits (view-only never permits download; a paper original never does either).
* one holder per paper original, guaranteed by a partial unique index on ``paper_loans``.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive_app import policy
from archive_app.accounts.models import ApiToken, User
from archive_app.audit import log as audit
from archive_app.borrowing.models import LOAN_KINDS, Handover, LoanApproval, LoanItem, LoanRequest, PaperLoan
from archive_app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from archive_app.i18n import _, _l
from archive_app.intake.models import Customer, Record

# 密级 from which the general manager must also approve (2 = 秘密).
GM_SECRECY = 2
# Part of the file whose paper originals need the general manager (3 = 交易状况).
GM_ORIGINAL_PART = 3

PENDING = ("pending_head", "pending_gm")
OPEN = (*PENDING, "approved")

# The state machine: (status, action) -> next status. Nothing else changes a request's status.
TRANSITIONS: dict[tuple[str, str], str] = {
    # the department head decides first
    ("pending_head", "approve"): "pending_gm",         # general manager must approve as well
    ("pending_head", "approve_final"): "approved",     # head's approval is enough
    ("pending_head", "reject"): "rejected",
    ("pending_head", "expire"): "expired",
    ("pending_head", "revoke"): "revoked",
    # then the general manager, where needed
    ("pending_gm", "approve"): "approved",
    ("pending_gm", "reject"): "rejected",
    ("pending_gm", "expire"): "expired",
    ("pending_gm", "revoke"): "revoked",
    # an approved request is used inside its window, then closed (window over, originals back)
    ("approved", "hand_out"): "approved",
    ("approved", "close"): "closed",
    ("approved", "revoke"): "revoked",
}

KIND_LABELS = {"view": _l("查阅"), "download": _l("复制/调用"), "original": _l("借出原件")}
STATUS_LABELS = {"pending_head": _l("待部门负责人审批"), "pending_gm": _l("待总经理审批"), "approved": _l("已批准"),
                 "rejected": _l("已驳回"), "expired": _l("已过期"), "revoked": _l("已撤销"), "closed": _l("已结束")}
# What each kind of loan permits online (a paper original may be read online, never downloaded).
KIND_PERMITS = {"view": {"view"}, "download": {"view", "download"}, "original": {"view"}}


@dataclass(frozen=True)
class LoanSettings:
    """The settings borrowing depends on (from ARCHIVE_TIMEZONE, ARCHIVE_LOAN_*)."""

    timezone: str = "Asia/Shanghai"
    max_days: int = 7
    decision_hours: int = 48

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LoanSettings:
        return cls(timezone=config["TIMEZONE"], max_days=int(config["LOAN_MAX_DAYS"]),
                   decision_hours=int(config["LOAN_DECISION_HOURS"]))


# ---------------------------------------------------------------------------------------------- helpers


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("naive datetime given; pass an aware one")
    return now


def end_of_day(moment: datetime, tz: str) -> datetime:
    """The first instant of the next local day after ``moment`` (the window end of a same-day loan)."""
    zone = ZoneInfo(tz)
    local = moment.astimezone(zone)
    return datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)


def _active(user: User | None) -> bool:
    return user is not None and bool(user.is_active_flag)


def _get_request(session: Session, request_id: int, *, lock: bool = False, viewer: User | None = None) -> LoanRequest:
    """The request, or NotFound. With ``viewer``, a request they may not know of (``loan.view``)
    answers exactly as a missing one, before anything about its number or state is said."""
    stmt = select(LoanRequest).where(LoanRequest.id == request_id)
    if lock:
        stmt = stmt.with_for_update()
    req = session.scalar(stmt)
    if req is None or (viewer is not None and not policy.can(viewer, "loan.view", req)):
        raise NotFound(_("借阅申请不存在"), code="loan_not_found")
    return req


def _illegal(req: LoanRequest, action: str) -> Conflict:
    label = STATUS_LABELS.get(req.status, req.status)
    if req.status == "expired":
        return Conflict(_("借阅申请 %(request_no)s 已过期，不能再办理", request_no=req.request_no), code="loan_expired")
    if action in {"approve", "approve_final", "reject", "expire"}:
        return Conflict(_("借阅申请 %(request_no)s 当前状态为「%(label)s」，不在待审批状态", request_no=req.request_no, label=label), code="loan_not_pending")
    if action == "hand_out":
        return Conflict(_("借阅申请 %(request_no)s 当前状态为「%(label)s」，未获批准，不能借出原件", request_no=req.request_no, label=label),
                        code="loan_not_approved")
    return Conflict(_("借阅申请 %(request_no)s 当前状态为「%(label)s」，不能执行该操作", request_no=req.request_no, label=label), code="illegal_transition")


def _check(req: LoanRequest, action: str) -> str:
    """The status ``action`` leads to from the request's current status, or raise the refusal."""
    nxt = TRANSITIONS.get((req.status, action))
    if nxt is None:
        raise _illegal(req, action)
    return nxt


def _transition(session: Session, req: LoanRequest, action: str, *, actor: User | None, now: datetime,
                details: dict | None = None) -> None:
    """Move the request along the table and audit it (not committed)."""
    before = req.status
    after = _check(req, action)
    req.status = after
    if before in PENDING and after not in PENDING:
        req.decided_at = now
    if after in {"closed", "revoked"} and before == "approved":
        req.closed_at = now
    if before != after:
        audit.record_event(session, f"loan.{action}", actor=actor, actor_name="" if actor else "system",
                           object_type="loan_request", object_id=req.id, now=now,
                           details={"request_no": req.request_no, "from": before, "to": after} | (details or {}))


def _decision_deadline(req: LoanRequest, settings: LoanSettings) -> datetime:
    return req.created_at + timedelta(hours=settings.decision_hours)


def _is_stale(req: LoanRequest, now: datetime, settings: LoanSettings) -> bool:
    return req.status in PENDING and now >= _decision_deadline(req, settings)


def _request_no(req: LoanRequest, tz: str) -> str:
    return f"JY-{req.created_at.astimezone(ZoneInfo(tz)).year}-{req.id:06d}"


# ---------------------------------------------------------------------------------------------- requests


def create_request(session: Session, actor: User, *, kind: str, purpose: str, settings: LoanSettings,
                   now: datetime, record_ids: Iterable[int] = (), customer_id: int | None = None,
                   window_start: datetime | None = None, window_end: datetime | None = None,
                   reason: str = "") -> LoanRequest:
    """Ask to use records (or a whole customer file, expanded to its current records).

    The window runs from ``window_start`` (default now) to the end of that local day unless a
    later ``window_end`` is given with a ``reason``; it may not exceed ``settings.max_days``.
    """
    now = _aware(now)
    if not _active(actor):
        raise Forbidden(_("账号已停用"), code="inactive_user")
    # Without a department there is no head to decide. Only those who decide at the general
    # manager's step go without one: another general manager decides their own requests.
    if actor.department_id is None and not policy.can(actor, "loan.approve_gm"):
        raise ValidationFailed(_("申请人没有所属部门，无法确定审批的部门负责人"), code="no_department")
    if kind not in LOAN_KINDS:
        raise ValidationFailed(_("借阅方式须为 查阅、复制/调用 或 借出原件"), code="invalid_kind")
    purpose = (purpose or "").strip()
    if not purpose:
        raise ValidationFailed(_("请填写借阅用途"), code="purpose_required")
    reason = (reason or "").strip()

    records = _requested_records(session, actor, record_ids, customer_id)

    start = _aware(window_start) if window_start is not None else now
    if start < now - timedelta(minutes=1):
        raise ValidationFailed(_("借阅期限不能从过去开始"), code="invalid_window")
    same_day_end = end_of_day(start, settings.timezone)
    end = _aware(window_end) if window_end is not None else same_day_end
    if end <= start:
        raise ValidationFailed(_("借阅期限的结束时间须晚于开始时间"), code="invalid_window")
    if end > same_day_end:
        if end - start > timedelta(days=settings.max_days):
            raise ValidationFailed(_("借阅期限最长 %(max_days)s 天", max_days=settings.max_days), code="window_too_long",
                                   details={"max_days": settings.max_days})
        if not reason:
            raise ValidationFailed(_("借阅期限超过当天，须说明理由"), code="reason_required")

    needs_gm = (kind == "download" or any(r.secrecy >= GM_SECRECY for r in records)
                or (kind == "original" and any(r.part == GM_ORIGINAL_PART for r in records)))
    # Whoever has no department head above them (a head, the general manager) goes straight to
    # the general manager's step; the general manager's own requests need another general manager.
    skips_head = policy.can(actor, "loan.skip_head")
    req = LoanRequest(requester_id=actor.id, department_id=actor.department_id, customer_id=customer_id,
                      kind=kind, purpose=purpose, reason_for_long_window=reason if end > same_day_end else "",
                      window_start=start, window_end=end, status="pending_gm" if skips_head else "pending_head",
                      needs_gm=needs_gm or skips_head,
                      created_at=now, status_reason="")
    req.items = [LoanItem(record_id=r.id) for r in records]
    session.add(req)
    session.flush()
    req.request_no = _request_no(req, settings.timezone)
    audit.record_event(session, "loan.request", actor=actor, object_type="loan_request", object_id=req.id, now=now,
                       details={"request_no": req.request_no, "kind": kind, "purpose": purpose,
                                "records": [r.archival_code for r in records], "customer_id": customer_id,
                                "window_start": start.isoformat(), "window_end": end.isoformat(),
                                "reason": req.reason_for_long_window, "needs_gm": needs_gm})
    session.flush()
    return req


def _requested_records(session: Session, actor: User, record_ids: Iterable[int],
                       customer_id: int | None) -> list[Record]:
    ids = sorted({int(i) for i in record_ids})
    if bool(ids) == (customer_id is not None):
        raise ValidationFailed(_("请选择档案，或选择整个客户档案（二者选一）"), code="no_records")
    if customer_id is not None:
        # A file of another department answers like a missing one (policy ``loan.borrow``).
        customer = session.get(Customer, customer_id)
        if customer is None or not policy.can(actor, "loan.borrow", customer):
            raise NotFound(_("客户档案不存在"), code="customer_not_found")
        # A whole file means the records it holds now that the requester's 密级 allows.
        records = list(session.scalars(select(Record).where(Record.customer_id == customer_id,
                                                            Record.secrecy <= actor.clearance,
                                                            Record.status != "destroyed")
                                       .order_by(Record.part, Record.item_no)))
        if not records:
            raise ValidationFailed(_("该客户档案中没有可借阅的档案"), code="no_records")
        return records
    records = list(session.scalars(select(Record).where(Record.id.in_(ids)).order_by(Record.id)))
    # Records the requester may not see (another department, above their 密级) answer like
    # missing ones: their existence is not revealed. This is the service's own check, whoever calls.
    if len(records) != len(ids) or any(not policy.can(actor, "record.view", r) for r in records):
        raise NotFound(_("档案不存在或无权查看"), code="not_found")
    # Of what the policy refuses to lend (``loan.borrow``), only tombstones are left to name.
    if any(not policy.can(actor, "loan.borrow", r) for r in records):
        raise Conflict(_("档案已销毁，不能借阅"), code="record_destroyed")
    return records


def approve(session: Session, approver: User, request_id: int, *, settings: LoanSettings, now: datetime,
            reason: str = "") -> LoanRequest:
    """The current step's approver approves. Head first, then the general manager if needed."""
    return _decide(session, approver, request_id, "approve", reason, settings, now)


def reject(session: Session, approver: User, request_id: int, *, reason: str, settings: LoanSettings,
           now: datetime) -> LoanRequest:
    """The current step's approver rejects, with a reason."""
    if not (reason or "").strip():
        raise ValidationFailed(_("驳回须说明理由"), code="reason_required")
    return _decide(session, approver, request_id, "reject", reason.strip(), settings, now)


def _decide(session: Session, approver: User, request_id: int, decision: str, reason: str,
            settings: LoanSettings, now: datetime) -> LoanRequest:
    now = _aware(now)
    if not _active(approver):
        raise Forbidden(_("账号已停用"), code="inactive_user")
    req = _get_request(session, request_id, lock=True, viewer=approver)
    if req.status not in PENDING:
        raise _illegal(req, decision)
    if _is_stale(req, now, settings):
        # Not decided in time: it expires now, whatever the approver meant to do.
        _transition(session, req, "expire", actor=None, now=now, details={"reason": "decision_timeout"})
        session.commit()
        raise _illegal(req, decision)
    _check_approver(session, approver, req)
    step = "head" if req.status == "pending_head" else "gm"
    action = decision
    if decision == "approve" and step == "head" and not req.needs_gm:
        action = "approve_final"
    session.add(LoanApproval(request=req, step=step, approver_id=approver.id, decision=decision, reason=reason,
                             at=now))
    req.status_reason = reason if decision == "reject" else req.status_reason
    _transition(session, req, action, actor=approver, now=now, details={"step": step, "reason": reason})
    session.flush()
    return req


def _check_approver(session: Session, approver: User, req: LoanRequest) -> None:
    if not _active(approver):
        raise Forbidden(_("账号已停用"), code="inactive_user")
    if approver.id == req.requester_id:
        raise Forbidden(_("不能审批自己的借阅申请"), code="self_approval")
    if req.status == "pending_head":
        policy.require(approver, "loan.approve_head", code="not_an_approver",
                       message=_("此步骤须由申请人所在部门的负责人审批"))
        policy.require(approver, "loan.approve_head", req, code="not_your_department",
                       message=_("只能审批本部门人员的借阅申请"))
    else:
        policy.require(approver, "loan.approve_gm", req, code="not_an_approver", message=_("此步骤须由总经理审批"))


def revoke(session: Session, actor: User, request_id: int, *, reason: str, now: datetime) -> LoanRequest:
    """Withdraw a pending or approved request (the requester, or an admin).

    Paper originals already handed out stay out until the archivist marks them returned.
    """
    now = _aware(now)
    req = _get_request(session, request_id, lock=True, viewer=actor)
    policy.require(actor, "loan.revoke", req, code="forbidden", message=_("只有申请人或系统管理员可以撤销借阅申请"))
    req.status_reason = (reason or "").strip()
    _transition(session, req, "revoke", actor=actor, now=now, details={"reason": req.status_reason})
    session.flush()
    return req


def expire_stale(session: Session, settings: LoanSettings, now: datetime) -> dict[str, int]:
    """Expire requests undecided for ``decision_hours``; close approved ones whose window has ended.

    An approved paper-original request stays open while any of its originals is still out (it is
    then on the overdue list); it closes when the last one is back. Commits; returns the counts.
    """
    now = _aware(now)
    deadline = now - timedelta(hours=settings.decision_hours)
    stale = session.scalars(select(LoanRequest).where(LoanRequest.status.in_(PENDING),
                                                      LoanRequest.created_at <= deadline)
                            .order_by(LoanRequest.id).with_for_update()).all()
    for req in stale:
        _transition(session, req, "expire", actor=None, now=now, details={"reason": "decision_timeout"})
    ended = session.scalars(select(LoanRequest).where(LoanRequest.status == "approved",
                                                      LoanRequest.window_end <= now,
                                                      ~_has_open_paper(LoanRequest.id))
                            .order_by(LoanRequest.id).with_for_update()).all()
    for req in ended:
        _transition(session, req, "close", actor=None, now=now, details={"reason": "window_ended"})
    session.flush()
    return {"expired": len(stale), "closed": len(ended)}


def _has_open_paper(request_id_col):
    return exists().where(PaperLoan.request_id == request_id_col, PaperLoan.returned_at.is_(None))


def approval_queue(session: Session, approver: User, settings: LoanSettings, now: datetime) -> list[LoanRequest]:
    """Requests waiting for this approver's decision (oldest first), leaving out their own and stale ones."""
    now = _aware(now)
    if not _active(approver):
        return []
    if not policy.can(approver, "loan.approve"):
        return []
    stmt = select(LoanRequest).where(policy.loans_to_decide(approver), LoanRequest.requester_id != approver.id,
                                     LoanRequest.created_at > now - timedelta(hours=settings.decision_hours))
    return list(session.scalars(stmt.order_by(LoanRequest.created_at, LoanRequest.id)))


# ---------------------------------------------------------------------------------------------- use


def active_grant(session: Session, user: User | None, record: Record, action: str,
                 now: datetime) -> LoanRequest | None:
    """The user's approved request that lets them ``action`` ("view" | "download") ``record`` now, or None.

    For the access policy: approved, ``now`` inside the window, the record among the request's
    items, and the request's kind permitting the action. The record's 密级 against the user's
    clearance is the policy's own check, not this one's.
    """
    if not _active(user):
        return None
    return session.scalar(
        select(LoanRequest).join(LoanItem, LoanItem.request_id == LoanRequest.id)
        .where(*_granting(user, action, now), LoanItem.record_id == record.id)
        .order_by(LoanRequest.window_end.desc(), LoanRequest.id.desc()).limit(1))


def _granting(user: User, action: str, now: datetime) -> tuple:
    """SQL conditions on LoanRequest: the user's approved requests permitting ``action`` at ``now``."""
    if action not in {"view", "download"}:
        raise ValueError(f"unknown loan action {action!r}")
    now = _aware(now)
    kinds = [k for k, permits in KIND_PERMITS.items() if action in permits]
    return (LoanRequest.requester_id == user.id, LoanRequest.status == "approved", LoanRequest.kind.in_(kinds),
            LoanRequest.window_start <= now, LoanRequest.window_end > now)


def granted_record_ids(session: Session, user: User | None, record_ids: Iterable[int], action: str,
                       now: datetime) -> set[int]:
    """Which of ``record_ids`` the user may ``action`` ("view" | "download") now under an approved
    request: ``active_grant`` for many records in one query (a page of search hits)."""
    ids = list(record_ids)
    if not ids or not _active(user):
        return set()
    return set(session.scalars(
        select(LoanItem.record_id).join(LoanRequest, LoanItem.request_id == LoanRequest.id)
        .where(*_granting(user, action, now), LoanItem.record_id.in_(ids))))


def require_grant(session: Session, user: User, record: Record, action: str, now: datetime) -> LoanRequest:
    """Like ``active_grant`` but explains a refusal: ``no_loan``, ``outside_window`` or ``view_only_loan``."""
    grant = active_grant(session, user, record, action, now)
    if grant is not None:
        return grant
    approved = list(session.scalars(
        select(LoanRequest).join(LoanItem, LoanItem.request_id == LoanRequest.id)
        .where(LoanRequest.requester_id == user.id, LoanRequest.status.in_(("approved", "closed")),
               LoanItem.record_id == record.id)))
    if not approved:
        raise Forbidden(_("没有已批准的借阅申请包含此档案"), code="no_loan")
    permitting = [r for r in approved if action in KIND_PERMITS[r.kind]]
    if not permitting:
        raise Forbidden(_("此借阅申请只允许在线查阅，不允许下载"), code="view_only_loan")
    raise Forbidden(_("不在批准的借阅期限内"), code="outside_window")


# ---------------------------------------------------------------------------------------------- paper


def hand_out(session: Session, archivist: User, request_id: int, record_id: int, *, pages: int,
             now: datetime) -> PaperLoan:
    """The archivist hands a paper original to the requester of an approved request; commits at once,
    so the one-holder rule is settled by the database before anyone else is told.

    Exactly one open paper loan per record: a second hand-out of the same original (even at the
    same instant from another session) is refused with ``already_out``.
    """
    now = _aware(now)
    policy.require(archivist, "paper.hand_out", code="not_archivist", message=_("只有档案管理员可以借出原件"))
    req = _get_request(session, request_id)
    if req.kind != "original":
        raise Conflict(_("此借阅申请不是借出原件"), code="not_original_loan")
    _check(req, "hand_out")
    if not (req.window_start <= now < req.window_end):
        raise Forbidden(_("不在批准的借阅期限内"), code="outside_window")
    if record_id not in req.record_ids:
        raise Forbidden(_("该档案不在此借阅申请中"), code="record_not_in_request")
    if archivist.id == req.requester_id:
        raise Forbidden(_("档案管理员不能把原件借给自己"), code="self_handout")
    if not isinstance(pages, int) or pages < 1:
        raise ValidationFailed(_("请填写借出页数"), code="invalid_pages")
    if session.scalar(select(PaperLoan.id).where(PaperLoan.record_id == record_id,
                                                 PaperLoan.returned_at.is_(None))) is not None:
        raise _already_out(session, record_id)
    loan = PaperLoan(record_id=record_id, request_id=req.id, handed_out_by_id=archivist.id,
                     received_by_id=req.requester_id, holder_id=req.requester_id, pages_out=pages, out_at=now,
                     due_at=req.window_end, status="out", condition_note="")
    session.add(loan)
    try:
        session.flush()
        code = session.get(Record, record_id).archival_code
        audit.record_event(session, "paper.hand_out", actor=archivist, object_type="paper_loan", object_id=loan.id,
                           now=now, details={"request_no": req.request_no, "archival_code": code, "pages": pages,
                                             "received_by": req.requester_id, "due_at": loan.due_at.isoformat()})
        session.commit()
    except IntegrityError:
        # The partial unique index: someone else handed this original out first.
        session.rollback()
        raise _already_out(session, record_id) from None
    return loan


def _already_out(session: Session, record_id: int) -> Conflict:
    return Conflict(_("该原件已借出，尚未归还"), code="already_out", details={"record_id": record_id})


def return_paper(session: Session, archivist: User, record_id: int, *, pages_back: int, now: datetime,
                 condition_note: str = "") -> PaperLoan:
    """The archivist checks a returned original and marks it back.

    Fewer pages than went out, or any damage, must be written in ``condition_note``. The request
    closes when its window is over or when every record it names has come back.
    """
    now = _aware(now)
    policy.require(archivist, "paper.return", code="not_archivist", message=_("只有档案管理员可以办理原件归还"))
    loan = session.scalar(select(PaperLoan).where(PaperLoan.record_id == record_id, PaperLoan.returned_at.is_(None))
                          .with_for_update())
    if loan is None:
        raise Conflict(_("该原件没有借出记录，无法归还"), code="not_handed_out")
    if not isinstance(pages_back, int) or pages_back < 0:
        raise ValidationFailed(_("请填写归还页数"), code="invalid_pages")
    note = (condition_note or "").strip()
    if pages_back != loan.pages_out and not note:
        raise ValidationFailed(_("借出 %(pages_out)s 页、归还 %(pages_back)s 页，须注明缺页或损坏情况", pages_out=loan.pages_out, pages_back=pages_back),
                               code="condition_note_required")
    loan.returned_at = now
    loan.returned_to_id = archivist.id
    loan.pages_back = pages_back
    loan.condition_note = note
    loan.status = "returned"
    session.flush()
    audit.record_event(session, "paper.return", actor=archivist, object_type="paper_loan", object_id=loan.id, now=now,
                       details={"request_no": loan.request.request_no, "archival_code": loan.record.archival_code,
                                "pages_out": loan.pages_out, "pages_back": pages_back, "condition_note": note,
                                "holder": loan.holder_id, "late": now > loan.due_at})
    req = loan.request
    if req.status == "approved" and not session.scalar(select(_has_open_paper(req.id))):
        returned = set(session.scalars(select(PaperLoan.record_id).where(PaperLoan.request_id == req.id)))
        if now >= req.window_end or returned >= req.record_ids:
            _transition(session, req, "close", actor=archivist, now=now, details={"reason": "originals_returned"})
    session.flush()
    return loan


def paper_desk(session: Session, now: datetime) -> tuple[list[LoanRequest], list[PaperLoan]]:
    """The archivist's desk: approved paper-original requests open now, and every original still out."""
    now = _aware(now)
    approved = list(session.scalars(select(LoanRequest).where(
        LoanRequest.kind == "original", LoanRequest.status == "approved", LoanRequest.window_start <= now,
        LoanRequest.window_end > now).order_by(LoanRequest.window_end)))
    out = list(session.scalars(select(PaperLoan).where(PaperLoan.returned_at.is_(None)).order_by(PaperLoan.due_at)))
    return approved, out


def overdue_paper_loans(session: Session, now: datetime) -> list[PaperLoan]:
    """Paper originals still out after their due time, most overdue first."""
    now = _aware(now)
    return list(session.scalars(select(PaperLoan).where(PaperLoan.returned_at.is_(None), PaperLoan.due_at < now)
                                .order_by(PaperLoan.due_at, PaperLoan.id)))


# ---------------------------------------------------------------------------------------------- people


def deactivate_user(session: Session, actor: User, user: User, successor: User, *, now: datetime,
                    note: str = "") -> Handover:
    """A user leaves: deactivate them, revoke their tokens and every open request at once, and hand
    their customers and the paper originals they hold to ``successor``, with a handover record.
    """
    now = _aware(now)
    policy.require(actor, "user.deactivate", code="forbidden", message=_("只有系统管理员可以停用账号"))
    if not user.is_active_flag:
        raise Conflict(_("该账号已停用"), code="already_inactive")
    if successor.id == user.id:
        raise ValidationFailed(_("交接人不能是离职人员本人"), code="invalid_successor")
    if not _active(successor):
        raise ValidationFailed(_("交接人账号已停用"), code="invalid_successor")
    user.is_active_flag = False
    for token in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))):
        token.revoked_at = now
    audit.record_event(session, "user.deactivate", actor=actor, object_type="user", object_id=user.id, now=now,
                       details={"username": user.username, "successor": successor.username})
    open_requests = session.scalars(select(LoanRequest).where(LoanRequest.requester_id == user.id,
                                                              LoanRequest.status.in_(OPEN))
                                    .order_by(LoanRequest.id).with_for_update()).all()
    for req in open_requests:
        req.status_reason = _("申请人账号停用")
        _transition(session, req, "revoke", actor=actor, now=now, details={"reason": "user_deactivated"})
    customers = session.scalars(select(Customer).where(Customer.consultant_id == user.id)
                                .order_by(Customer.id)).all()
    for c in customers:
        c.consultant_id = successor.id
    papers = session.scalars(select(PaperLoan).where(PaperLoan.holder_id == user.id, PaperLoan.returned_at.is_(None))
                             .order_by(PaperLoan.id).with_for_update()).all()
    for p in papers:
        p.holder_id = successor.id
    handover = Handover(from_user_id=user.id, to_user_id=successor.id, by_id=actor.id, at=now,
                        note=(note or "").strip(), customers_count=len(customers), paper_loans_count=len(papers),
                        requests_revoked_count=len(open_requests))
    session.add(handover)
    session.flush()
    audit.record_event(session, "handover", actor=actor, object_type="handover", object_id=handover.id, now=now,
                       details={"from": user.username, "to": successor.username, "note": handover.note,
                                "customers": [c.customer_no for c in customers],
                                "paper_loans": [p.id for p in papers],
                                "requests_revoked": [r.request_no for r in open_requests]})
    session.flush()
    return handover
