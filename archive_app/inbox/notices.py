"""The inbox (消息): what needs a user's attention now, computed from the state, never stored.

Borrowers see their overdue originals and the fate of their requests; approvers what waits for
them; archivists every overdue original and the approved originals still to hand out; leadership
and the archive the disposal batches waiting for their step; the keepers the files failing their
fixity check; consultants their follow-ups (回访) due today or overdue. Nothing to mark read: a
notice disappears when its cause does (the original comes back, the request is decided, the
follow-up is recorded).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.borrowing import loans
from archive_app.borrowing.models import LoanRequest, PaperLoan
from archive_app.corrections.models import ChangeRequest
from archive_app.fixity import checks as fixity
from archive_app.i18n import _
from archive_app.intake.models import Customer, Record
from archive_app.retention.models import DestructionEntry, DisposalBatch, DisposalSupervisor
from archive_app.visits import follow_ups

# How long a decided request stays in its requester's inbox.
RECENT = timedelta(days=7)
# How long a department head is told of a destruction that concerned their department.
NOTICE_DAYS = timedelta(days=30)


@dataclass(frozen=True)
class Notice:
    """One line of the inbox: ``level`` is "urgent" or "info"; ``link`` an endpoint and its args."""

    level: str
    text: str
    link: tuple[str, dict]


def _local(moment: datetime, tz: str) -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def _overdue(user: User, loan: PaperLoan, tz: str, mine: bool) -> Notice:
    who = _("您借出的") if mine else _("%(display_name)s 借出的", display_name=loan.holder.display_name)
    code = policy.record_code(user, loan.record)
    return Notice("urgent", _("%(who)s原件 %(code)s 已逾期未还（应于 %(local)s 归还）", who=who, code=code, local=_local(loan.due_at, tz)),
                  ("loans.paper_overdue" if not mine else "loans.mine", {}))


def _borrower(session: Session, user: User, settings: loans.LoanSettings, now: datetime) -> list[Notice]:
    out = [_overdue(user, p, settings.timezone, True) for p in loans.overdue_paper_loans(session, now)
           if p.holder_id == user.id]
    mine = session.scalars(select(LoanRequest).where(LoanRequest.requester_id == user.id,
                                                     LoanRequest.status.in_(("approved", "rejected", "expired")),
                                                     LoanRequest.decided_at >= now - RECENT)
                           .order_by(LoanRequest.decided_at.desc()))
    for r in mine:
        if r.status == "approved" and r.window_end > now:
            out.append(Notice("info", _("借阅申请 %(request_no)s 已批准，可使用至 %(local)s", request_no=r.request_no, local=_local(r.window_end, settings.timezone)),
                              ("loans.mine", {})))
        elif r.status == "rejected":
            out.append(Notice("info", _("借阅申请 %(request_no)s 被驳回：%(status_reason)s", request_no=r.request_no, status_reason=r.status_reason), ("loans.mine", {})))
        elif r.status == "expired":
            out.append(Notice("info", _("借阅申请 %(request_no)s 未在期限内审批，已过期", request_no=r.request_no), ("loans.mine", {})))
    return out


def _archive(session: Session, user: User, settings: loans.LoanSettings, now: datetime) -> list[Notice]:
    out = [_overdue(user, p, settings.timezone, False) for p in loans.overdue_paper_loans(session, now)]
    waiting = session.scalar(select(func.count()).select_from(LoanRequest).where(
        LoanRequest.kind == "original", LoanRequest.status == "approved", LoanRequest.window_end > now,
        ~select(PaperLoan.id).where(PaperLoan.request_id == LoanRequest.id).exists()))
    if waiting:
        out.append(Notice("info", _("有 %(waiting)s 件已批准的原件借阅待办理借出", waiting=waiting), ("loans.paper", {})))
    return out


def _disposal(session: Session, user: User, now: datetime) -> list[Notice]:
    out = []
    if policy.can(user, "disposal.follow_department"):
        # The business departments are told what of theirs was destroyed (DOMAIN.md, 销毁).
        told = session.execute(
            select(DisposalBatch.batch_no, func.count())
            .join(DestructionEntry, DestructionEntry.batch_id == DisposalBatch.id)
            .join(Record, Record.id == DestructionEntry.record_id).join(Customer, Customer.id == Record.customer_id)
            .where(Customer.department_id == user.department_id, DisposalBatch.finished_at >= now - NOTICE_DAYS)
            .group_by(DisposalBatch.batch_no).order_by(DisposalBatch.batch_no))
        out += [Notice("info", _("销毁批次 %(no)s 已销毁本部门客户档案 %(n)s 件", no=no, n=n), ("retention.register", {}))
                for no, n in told]
    if policy.can(user, "disposal.approve"):
        n = session.scalar(select(func.count()).where(DisposalBatch.status == "submitted"))
        if n:
            out.append(Notice("info", _("有 %(n)s 个销毁批次待您审批", n=n), ("retention.batches", {})))
    if policy.can(user, "disposal.supervise"):
        signed = select(DisposalSupervisor.batch_id).where(DisposalSupervisor.user_id == user.id)
        n = session.scalar(select(func.count()).where(DisposalBatch.status == "approved",
                                                      DisposalBatch.id.not_in(signed)))
        if n:
            out.append(Notice("info", _("有 %(n)s 个已批准的销毁批次等待监销确认", n=n), ("retention.batches", {})))
    if policy.can(user, "disposal.execute"):
        n = session.scalar(select(func.count()).where(DisposalBatch.status.in_(("approved", "executing"))))
        if n:
            out.append(Notice("info", _("有 %(n)s 个销毁批次待执行或未执行完", n=n), ("retention.batches", {})))
    return out


def _follow_ups(session: Session, user: User, today: date) -> list[Notice]:
    # Counts only: a follow-up of a customer the consultant no longer sees (moved department) is not named.
    due = follow_ups.due_counts(session, user, today)
    out = []
    if due.overdue:
        out.append(Notice("urgent", _("有 %(overdue)s 项客户回访已逾期（最早应于 %(earliest)s 回访）", overdue=due.overdue, earliest=due.earliest),
                          ("visits.due_follow_ups", {})))
    if due.today:
        out.append(Notice("info", _("今天有 %(today)s 项客户回访待做", today=due.today), ("visits.due_follow_ups", {})))
    return out


def _corrections(session: Session, user: User, now: datetime) -> list[Notice]:
    """Change requests (客户数据变更申请): waiting for this user's step, and the outcome of their own."""
    out = []
    waiting = session.scalar(select(func.count()).select_from(ChangeRequest).where(policy.changes_to_decide(user)))
    if waiting:
        out.append(Notice("urgent", _("有 %(waiting)s 件客户数据变更申请待您审批", waiting=waiting), ("corrections.queue", {})))
    decided = session.scalars(select(ChangeRequest).where(ChangeRequest.requester_id == user.id,
                                                          ChangeRequest.decided_at >= now - RECENT)
                              .order_by(ChangeRequest.decided_at.desc()))
    for r in decided:
        text = (_("客户数据变更申请 #%(id)s 已批准并执行", id=r.id) if r.status == "approved"
                else _("客户数据变更申请 #%(id)s 被驳回：%(decision_note)s", id=r.id, decision_note=r.decision_note))
        out.append(Notice("info", text, ("corrections.show", {"request_id": r.id})))
    return out


def _sent_back(session: Session, user: User) -> list[Notice]:
    """The uploader's drafts a reviewer sent back (退回修改), with the reason, until they are saved again."""
    # Only records the user may still see (a lowered clearance hides them).
    drafts = session.scalars(policy.visible_records(user, select(Record).join(Customer)).where(
        Record.created_by_id == user.id, Record.status == "draft", Record.returned_at.is_not(None))
        .order_by(Record.returned_at.desc()).limit(50))
    return [Notice("urgent", _("档案 %(archival_code)s 被退回修改：%(returned_reason)s", archival_code=r.archival_code, returned_reason=r.returned_reason),
                   ("records.show", {"record_id": r.id})) for r in drafts]


def inbox(session: Session, user: User, settings: loans.LoanSettings, now: datetime) -> list[Notice]:
    """Everything that needs ``user`` now, urgent first."""
    out = _borrower(session, user, settings, now)
    queue = loans.approval_queue(session, user, settings, now)
    if queue:
        out.append(Notice("urgent", _("有 %(count)s 件借阅申请待您审批", count=len(queue)), ("loans.queue", {})))
    if policy.can(user, "paper.manage"):
        out += _archive(session, user, settings, now)
    out += _disposal(session, user, now)
    if policy.can(user, "followup.record"):
        out += _follow_ups(session, user, now.astimezone(ZoneInfo(settings.timezone)).date())
    out += _corrections(session, user, now)
    if policy.can(user, "record.upload"):
        out += _sent_back(session, user)
    if policy.can(user, "fixity.notify"):
        failing = fixity.failure_count(session)
        if failing:
            out.append(Notice("urgent", _("有 %(failing)s 个文件未通过完整性检测（内容与登记的 SHA-256 不符、缺失或无法打开）", failing=failing),
                              ("fixity.index", {})))
    return sorted(out, key=lambda n: n.level != "urgent")
