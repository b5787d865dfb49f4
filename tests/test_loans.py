"""Borrowing (借阅): requests, the approval chain, windows, paper originals, handovers.

The state machine is driven through ``services.loans`` with time injected (never slept). Every
app-level test runs on both stacks; the one-holder proof runs two real threads on PostgreSQL.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import product
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from archive_app.accounts import users as accounts
from archive_app.accounts.models import ApiToken, User
from archive_app.audit import log as audit
from archive_app.audit.models import AuditEntry
from archive_app.borrowing import loans as L
from archive_app.borrowing.loans import LoanSettings
from archive_app.borrowing.models import LOAN_STATUSES, Handover, LoanApproval, LoanRequest, PaperLoan
from archive_app.errors import DomainError
from archive_app.extensions import db
from archive_app.intake import customers
from archive_app.intake.models import Customer, Record

from .conftest import make_app

# 10:00 in Shanghai; the same-day window ends at 00:00 the next local day = 16:00 UTC.
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
END_OF_DAY = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
SETTINGS = LoanSettings(timezone="Asia/Shanghai", max_days=7, decision_hours=48)


def code_of(excinfo) -> str:
    return excinfo.value.code


@dataclass
class World:
    u: dict[str, User]
    customer: Customer
    other_customer: Customer
    # the file's records: r1 part 1 内部, r2 part 2 内部, r3 part 3 内部, secret part 1 秘密
    r1: Record
    r2: Record
    r3: Record
    secret: Record
    foreign: Record  # a record of another customer

    @property
    def s(self):
        return db.session


def _record(customer: Customer, part: int, item: int, secrecy: int, creator: User) -> Record:
    return Record(customer=customer, part=part, item_no=item, record_type="购房合同", title=f"件 {part}-{item}",
                  archival_code=f"0001-2026-D30-{customer.customer_no}-{part}-{item:04d}", year=2026,
                  retention_code="D30", secrecy=secrecy, status="filed", created_by_id=creator.id)


@pytest.fixture
def w(app, users):
    with app.app_context():
        s = db.session
        u = {name: s.get(User, uid) for name, uid in users.items()}
        c = customers.create_customer(s, u["archivist"], {"name": "王小明", "phones": "13912345678",
                                                          "department": "销售一部",
                                                          "consultant_id": u["staff"].id})
        other = customers.create_customer(s, u["archivist"], {"name": "李四", "department": "销售二部"})
        recs = [_record(c, 1, 1, 1, u["archivist"]), _record(c, 2, 1, 1, u["archivist"]),
                _record(c, 3, 1, 1, u["archivist"]), _record(c, 1, 2, 2, u["archivist"]),
                _record(other, 1, 1, 1, u["archivist"])]
        s.add_all(recs)
        s.commit()
        yield World(u, c, other, *recs)


def req(w: World, who="staff", kind="view", records=None, **kw) -> LoanRequest:
    ids = [r.id for r in (records if records is not None else [w.r1])]
    return L.create_request(w.s, w.u[who], kind=kind, purpose="核对合同", settings=SETTINGS,
                            now=kw.pop("now", NOW), record_ids=ids, **kw)


def approve(w: World, r: LoanRequest, who: str, now=NOW) -> LoanRequest:
    return L.approve(w.s, w.u[who], r.id, settings=SETTINGS, now=now)


def approved(w: World, **kw) -> LoanRequest:
    r = req(w, **kw)
    approve(w, r, "head")
    if r.status == "pending_gm":
        approve(w, r, "gm")
    assert r.status == "approved"
    return r


def raises(code: str, fn, *args, **kw):
    with pytest.raises(DomainError) as exc:
        fn(*args, **kw)
    assert exc.value.code == code, (exc.value.code, exc.value.message)
    assert exc.value.message and re.search(r"[\u4e00-\u9fff]", exc.value.message)
    return exc.value


def actions(w: World, object_type="loan_request") -> list[str]:
    return list(w.s.scalars(select(AuditEntry.action).where(AuditEntry.object_type == object_type)
                            .order_by(AuditEntry.seq)))


# ------------------------------------------------------------------------------- the table itself


ALL_ACTIONS = sorted({a for _, a in L.TRANSITIONS} | {"view", "download", "return"})


@pytest.mark.parametrize("status,action", list(product(LOAN_STATUSES, ALL_ACTIONS)))
def test_every_status_action_pair_is_allowed_only_by_the_table(status, action):
    r = LoanRequest(status=status, request_no="JY-2026-000001")
    if (status, action) in L.TRANSITIONS:
        assert L._check(r, action) == L.TRANSITIONS[(status, action)]
    else:
        with pytest.raises(DomainError) as exc:
            L._check(r, action)
        assert exc.value.status == 409
        expected = ("loan_expired" if status == "expired" else
                    "loan_not_pending" if action in {"approve", "approve_final", "reject", "expire"} else
                    "loan_not_approved" if action == "hand_out" else "illegal_transition")
        assert exc.value.code == expected


def test_terminal_states_have_no_way_out():
    for terminal in ("rejected", "expired", "revoked", "closed"):
        assert not [k for k in L.TRANSITIONS if k[0] == terminal]
    assert set(L.TRANSITIONS.values()) <= set(LOAN_STATUSES)


def test_end_of_day_is_local_midnight():
    assert L.end_of_day(NOW, "Asia/Shanghai") == END_OF_DAY
    # 23:30 local is still the same day; 00:30 local is the next one
    assert L.end_of_day(datetime(2026, 11, 25, 15, 30, tzinfo=UTC), "Asia/Shanghai") == END_OF_DAY
    assert L.end_of_day(datetime(2026, 11, 25, 16, 30, tzinfo=UTC), "Asia/Shanghai") == END_OF_DAY + timedelta(days=1)
    assert L.end_of_day(NOW, "UTC") == datetime(2026, 11, 26, tzinfo=UTC)


def test_settings_come_from_config(app):
    s = LoanSettings.from_config(app.config)
    assert (s.timezone, s.max_days, s.decision_hours) == ("Asia/Shanghai", 7, 48)


# ------------------------------------------------------------------------------- requests


def test_request_defaults_to_the_same_day(w):
    r = req(w)
    assert re.fullmatch(r"JY-2026-\d{6}", r.request_no) and r.request_no.endswith(f"{r.id:06d}")
    assert (r.status, r.kind, r.needs_gm) == ("pending_head", "view", False)
    assert r.window_start == NOW and r.window_end == END_OF_DAY
    assert r.department_id == w.u["staff"].department_id and r.record_ids == {w.r1.id}
    assert r.created_at == NOW and r.decided_at is None
    assert actions(w) == ["loan.request"]


def test_request_number_is_given_once(w):
    r = req(w)
    no = r.request_no
    approve(w, r, "head")
    w.s.expire_all()
    assert w.s.get(LoanRequest, r.id).request_no == no


def test_longer_window_needs_a_reason_and_stays_within_the_maximum(w):
    raises("reason_required", req, w, window_end=NOW + timedelta(days=2))
    raises("window_too_long", req, w, window_end=NOW + timedelta(days=7, seconds=1), reason="项目审计")
    r = req(w, window_end=NOW + timedelta(days=7), reason="项目审计")
    assert r.window_end == NOW + timedelta(days=7) and r.reason_for_long_window == "项目审计"
    # shorter than the day needs no reason, and a same-day reason is not kept
    assert req(w, window_end=NOW + timedelta(hours=1)).reason_for_long_window == ""
    raises("invalid_window", req, w, window_end=NOW)
    raises("invalid_window", req, w, window_start=NOW - timedelta(hours=1))


def test_request_validation(w):
    raises("purpose_required", L.create_request, w.s, w.u["staff"], kind="view", purpose="  ", settings=SETTINGS,
           now=NOW, record_ids=[w.r1.id])
    raises("invalid_kind", req, w, kind="borrow")
    raises("no_records", req, w, records=[])
    raises("not_found", L.create_request, w.s, w.u["staff"], kind="view", purpose="x", settings=SETTINGS, now=NOW,
           record_ids=[999999])
    # above the requester's 密级: answered like a missing record
    raises("not_found", req, w, records=[w.secret])
    raises("no_department", req, w, who="admin")
    assert w.s.scalar(select(LoanRequest.id)) is None


def test_the_service_refuses_records_of_another_department(w):
    # No page in between: the service itself asks the policy (``loan.borrow``) for every record
    # and whole file named, and answers like the page does, without revealing that they exist.
    assert w.foreign.customer.department_id != w.u["staff"].department_id
    raises("not_found", req, w, records=[w.foreign])
    raises("not_found", req, w, records=[w.r1, w.foreign])
    raises("customer_not_found", L.create_request, w.s, w.u["staff"], kind="view", purpose="核对", settings=SETTINGS,
           now=NOW, customer_id=w.other_customer.id)
    assert w.s.scalar(select(LoanRequest.id)) is None
    # the same records are open to their own department
    assert req(w, who="staff_other", records=[w.foreign]).record_ids == {w.foreign.id}


def test_whole_file_expands_to_its_current_records(w):
    r = L.create_request(w.s, w.u["staff"], kind="view", purpose="整理", settings=SETTINGS, now=NOW,
                         customer_id=w.customer.id)
    # staff (clearance 1) gets the 内部 records, not the 秘密 one
    assert r.record_ids == {w.r1.id, w.r2.id, w.r3.id} and r.customer_id == w.customer.id
    r2 = L.create_request(w.s, w.u["staff_secret"], kind="view", purpose="整理", settings=SETTINGS, now=NOW,
                          customer_id=w.customer.id)
    assert r2.record_ids == {w.r1.id, w.r2.id, w.r3.id, w.secret.id} and r2.needs_gm
    # a record filed later is not covered by the earlier request
    approve(w, r, "head")
    late = _record(w.customer, 1, 3, 1, w.u["archivist"])
    w.s.add(late)
    w.s.commit()
    assert L.active_grant(w.s, w.u["staff"], late, "view", NOW) is None
    assert L.active_grant(w.s, w.u["staff"], w.r2, "view", NOW) == r


@pytest.mark.parametrize("who,kind,rec,needs_gm", [
    ("staff", "view", "r1", False),
    ("staff", "view", "r3", False),
    ("staff", "download", "r1", True),           # 调用 always needs the general manager
    ("staff_secret", "view", "secret", True),    # 秘密 and above
    ("staff", "original", "r1", False),
    ("staff", "original", "r3", True),           # paper originals of 交易状况
])
def test_who_must_approve(w, who, kind, rec, needs_gm):
    assert req(w, who=who, kind=kind, records=[getattr(w, rec)]).needs_gm is needs_gm


# ------------------------------------------------------------------------------- approvals


def test_head_alone_approves_a_plain_view(w):
    r = req(w)
    assert L.approval_queue(w.s, w.u["head"], SETTINGS, NOW) == [r]
    assert L.approval_queue(w.s, w.u["gm"], SETTINGS, NOW) == []
    approve(w, r, "head", now=NOW + timedelta(minutes=5))
    assert r.status == "approved" and r.decided_at == NOW + timedelta(minutes=5)
    [a] = r.approvals
    assert (a.step, a.decision, a.approver_id) == ("head", "approve", w.u["head"].id)
    assert L.approval_queue(w.s, w.u["head"], SETTINGS, NOW) == []
    assert actions(w) == ["loan.request", "loan.approve_final"]


def test_head_then_general_manager(w):
    r = req(w, kind="download")
    approve(w, r, "head")
    assert r.status == "pending_gm" and r.decided_at is None
    assert L.approval_queue(w.s, w.u["head"], SETTINGS, NOW) == []
    assert L.approval_queue(w.s, w.u["gm"], SETTINGS, NOW) == [r]
    raises("not_an_approver", approve, w, r, "head")
    approve(w, r, "gm", now=NOW + timedelta(hours=1))
    assert r.status == "approved" and r.decided_at == NOW + timedelta(hours=1)
    assert [(a.step, a.decision) for a in r.approvals] == [("head", "approve"), ("gm", "approve")]
    assert L.active_grant(w.s, w.u["staff"], w.r1, "download", NOW + timedelta(hours=1)) == r
    assert actions(w) == ["loan.request", "loan.approve", "loan.approve"]


def test_reject_at_either_step_needs_a_reason(w):
    r = req(w)
    raises("reason_required", L.reject, w.s, w.u["head"], r.id, reason=" ", settings=SETTINGS, now=NOW)
    L.reject(w.s, w.u["head"], r.id, reason="用途不明", settings=SETTINGS, now=NOW)
    assert (r.status, r.status_reason, r.decided_at) == ("rejected", "用途不明", NOW)
    assert L.active_grant(w.s, w.u["staff"], w.r1, "view", NOW) is None
    r2 = req(w, kind="download")
    approve(w, r2, "head")
    L.reject(w.s, w.u["gm"], r2.id, reason="不得带出", settings=SETTINGS, now=NOW)
    assert r2.status == "rejected"
    assert [(a.step, a.decision, a.reason) for a in r2.approvals] == [("head", "approve", ""),
                                                                      ("gm", "reject", "不得带出")]
    raises("loan_not_pending", approve, w, r2, "gm")


def test_approve_twice_is_refused(w):
    r = req(w)
    approve(w, r, "head")
    raises("loan_not_pending", approve, w, r, "head")
    raises("loan_not_pending", L.reject, w.s, w.u["head"], r.id, reason="x", settings=SETTINGS, now=NOW)
    assert len(r.approvals) == 1


def test_nobody_approves_their_own_request(w):
    # a department head's own request goes to the general manager, never to the head
    r = req(w, who="head")
    assert (r.status, r.needs_gm) == ("pending_gm", True)
    raises("self_approval", approve, w, r, "head")
    assert L.approval_queue(w.s, w.u["head"], SETTINGS, NOW) == []
    assert L.approval_queue(w.s, w.u["gm"], SETTINGS, NOW) == [r]
    approve(w, r, "gm")
    assert r.status == "approved" and [a.step for a in r.approvals] == ["gm"]


def test_the_general_managers_own_request_needs_another_general_manager(w):
    # the general manager has no department: the request waits at the general manager step
    r = req(w, who="gm", records=[w.secret])
    assert (r.status, r.department_id) == ("pending_gm", None)
    raises("self_approval", approve, w, r, "gm")
    assert L.approval_queue(w.s, w.u["gm"], SETTINGS, NOW) == []
    deputy = accounts.create_user(w.s, username="deputy_gm", password="Deputy-Pw-12345", role="general_manager",
                                  display_name="副总经理")
    w.s.commit()
    assert L.approval_queue(w.s, deputy, SETTINGS, NOW) == [r]
    L.approve(w.s, deputy, r.id, settings=SETTINGS, now=NOW)
    assert r.status == "approved"
    assert L.active_grant(w.s, w.u["gm"], w.secret, "view", NOW) == r


def test_wrong_department_and_wrong_role_are_refused(w):
    r = req(w, who="staff_other", records=[w.foreign])
    # Whoever may not know of the request (another department's head, a colleague) gets the
    # answer a missing request gets: no number, no state.
    missing = SimpleNamespace(id=999999)
    for who in ("head", "staff_secret"):
        raises("loan_not_found", approve, w, r, who)
        raises("loan_not_found", approve, w, missing, who)
        raises("loan_not_found", L.revoke, w.s, w.u[who], r.id, reason="x", now=NOW)
    assert L.approval_queue(w.s, w.u["head"], SETTINGS, NOW) == []
    # Those who see every register line know it exists: they are told they do not decide it.
    for who in ("gm", "archivist", "admin"):
        raises("not_an_approver", approve, w, r, who)
    assert r.status == "pending_head" and not r.approvals


def test_approve_after_expiry_is_refused_and_expires_it(w):
    r = req(w)
    later = NOW + timedelta(hours=48)
    assert L.approval_queue(w.s, w.u["head"], SETTINGS, later - timedelta(seconds=1)) == [r]
    assert L.approval_queue(w.s, w.u["head"], SETTINGS, later) == []
    raises("loan_expired", approve, w, r, "head", now=later)
    w.s.expire_all()
    r = w.s.get(LoanRequest, r.id)
    assert r.status == "expired" and r.decided_at == later and not r.approvals
    raises("loan_expired", approve, w, r, "head", now=later)
    assert actions(w) == ["loan.request", "loan.expire"]


def test_expire_stale_expires_pending_and_closes_ended_windows(w):
    old = req(w)                                                   # pending, will go stale
    gm_wait = req(w, kind="download", now=NOW + timedelta(hours=1))
    approve(w, gm_wait, "head", now=NOW + timedelta(hours=1))     # pending_gm, stale later
    fresh = req(w, now=NOW + timedelta(hours=40))                  # still within 48 h
    used = approved(w)                                             # approved, window ends today
    assert L.expire_stale(w.s, SETTINGS, NOW + timedelta(hours=1)) == {"expired": 0, "closed": 0}
    result = L.expire_stale(w.s, SETTINGS, NOW + timedelta(hours=49))
    assert result == {"expired": 2, "closed": 1}
    assert (old.status, gm_wait.status, fresh.status, used.status) == ("expired", "expired", "pending_head", "closed")
    assert used.closed_at == NOW + timedelta(hours=49)
    assert L.expire_stale(w.s, SETTINGS, NOW + timedelta(hours=49)) == {"expired": 0, "closed": 0}


def test_revoke(w):
    r = approved(w)
    raises("loan_not_found", L.revoke, w.s, w.u["staff_secret"], r.id, reason="x", now=NOW)  # a colleague's
    L.revoke(w.s, w.u["staff"], r.id, reason="不需要了", now=NOW + timedelta(hours=1))
    assert (r.status, r.closed_at) == ("revoked", NOW + timedelta(hours=1))
    assert L.active_grant(w.s, w.u["staff"], w.r1, "view", NOW + timedelta(hours=1)) is None
    raises("illegal_transition", L.revoke, w.s, w.u["staff"], r.id, reason="x", now=NOW)
    p = req(w)
    L.revoke(w.s, w.u["admin"], p.id, reason="重复申请", now=NOW)
    assert p.status == "revoked" and p.decided_at == NOW
    raises("loan_not_pending", approve, w, p, "head")


# ------------------------------------------------------------------------------- use


def test_access_only_inside_the_window(w):
    r = approved(w, window_start=NOW + timedelta(hours=1), window_end=NOW + timedelta(hours=3))
    inside = NOW + timedelta(hours=2)
    assert L.active_grant(w.s, w.u["staff"], w.r1, "view", inside) == r
    assert L.require_grant(w.s, w.u["staff"], w.r1, "view", inside) == r
    for t in (NOW, NOW + timedelta(hours=3), NOW + timedelta(days=1)):   # before, at the end, after
        assert L.active_grant(w.s, w.u["staff"], w.r1, "view", t) is None
        raises("outside_window", L.require_grant, w.s, w.u["staff"], w.r1, "view", t)


def test_view_only_loan_never_downloads(w):
    approved(w)
    assert L.active_grant(w.s, w.u["staff"], w.r1, "download", NOW) is None
    raises("view_only_loan", L.require_grant, w.s, w.u["staff"], w.r1, "download", NOW)
    orig = approved(w, kind="original", records=[w.r2])
    assert L.active_grant(w.s, w.u["staff"], w.r2, "view", NOW) == orig
    raises("view_only_loan", L.require_grant, w.s, w.u["staff"], w.r2, "download", NOW)
    dl = approved(w, kind="download", records=[w.r1])
    assert L.active_grant(w.s, w.u["staff"], w.r1, "download", NOW) == dl
    assert L.active_grant(w.s, w.u["staff"], w.r1, "view", NOW) is not None
    with pytest.raises(ValueError):
        L.active_grant(w.s, w.u["staff"], w.r1, "edit", NOW)


def test_approval_never_widens_beyond_the_named_records(w):
    approved(w, records=[w.r1])
    for other in (w.r2, w.r3, w.foreign):
        assert L.active_grant(w.s, w.u["staff"], other, "view", NOW) is None
        raises("no_loan", L.require_grant, w.s, w.u["staff"], other, "view", NOW)
    # and only for the requester
    assert L.active_grant(w.s, w.u["staff_secret"], w.r1, "view", NOW) is None


def test_no_grant_before_approval(w):
    r = req(w, kind="download")
    assert L.active_grant(w.s, w.u["staff"], w.r1, "view", NOW) is None
    approve(w, r, "head")
    assert L.active_grant(w.s, w.u["staff"], w.r1, "download", NOW) is None
    raises("no_loan", L.require_grant, w.s, w.u["staff"], w.r1, "download", NOW)


# ------------------------------------------------------------------------------- paper originals


def test_paper_original_out_and_back(w):
    r = approved(w, kind="original", records=[w.r1, w.r2], window_end=NOW + timedelta(days=2), reason="现场核对")
    t1 = NOW + timedelta(hours=1)
    p1 = L.hand_out(w.s, w.u["archivist"], r.id, w.r1.id, pages=12, now=t1)
    assert (p1.status, p1.pages_out, p1.out_at, p1.due_at) == ("out", 12, t1, r.window_end)
    assert (p1.handed_out_by_id, p1.received_by_id, p1.holder_id) == (w.u["archivist"].id, w.u["staff"].id,
                                                                     w.u["staff"].id)
    p2 = L.hand_out(w.s, w.u["archivist2"], r.id, w.r2.id, pages=3, now=t1)
    raises("condition_note_required", L.return_paper, w.s, w.u["archivist"], w.r1.id, pages_back=11, now=t1)
    back = L.return_paper(w.s, w.u["archivist"], w.r1.id, pages_back=11, condition_note="缺第 7 页",
                          now=NOW + timedelta(hours=5))
    assert (back.status, back.pages_back, back.condition_note, back.returned_to_id) == (
        "returned", 11, "缺第 7 页", w.u["archivist"].id)
    assert r.status == "approved"          # r2 is still out
    L.return_paper(w.s, w.u["archivist2"], w.r2.id, pages_back=3, condition_note="封面折损",
                   now=NOW + timedelta(hours=6))
    assert p2.status == "returned" and r.status == "closed"
    # the original can go out again on a new request
    r2 = approved(w, kind="original", records=[w.r1])
    assert L.hand_out(w.s, w.u["archivist"], r2.id, w.r1.id, pages=11, now=NOW + timedelta(hours=7)).status == "out"
    assert actions(w, "paper_loan") == ["paper.hand_out", "paper.hand_out", "paper.return", "paper.return",
                                        "paper.hand_out"]


def test_hand_out_slip_has_both_signature_lines_and_the_embedded_font(w, tmp_path):
    import io

    from pypdf import PdfReader

    from archive_app.borrowing import slips

    from .test_printing import assert_printable

    w.r1.location_room, w.r1.location_cabinet, w.r1.location_shelf = "档案室", "A柜", "3架"
    r = approved(w, kind="original", records=[w.r1], window_end=NOW + timedelta(days=1), reason="现场核对")
    loan = L.hand_out(w.s, w.u["archivist"], r.id, w.r1.id, pages=12, now=NOW)
    printed = NOW + timedelta(minutes=1)
    pdf, number = slips.print_slip(w.s, w.u["archivist"], loan.id, tz="Asia/Shanghai", now=printed)
    w.s.commit()
    assert number == f"JJ-2026-{loan.id:06d}"
    reader = assert_printable(pdf, tmp_path, printed.astimezone(ZoneInfo("Asia/Shanghai")))
    text = "".join(page.extract_text() for page in reader.pages)
    for words in ("档案原件交接单", number, r.request_no, w.r1.archival_code, "件 1-1", "档案室 A柜 3架", "12 页",
                  "交出人 archivist（签字）", "接收人 staff（签字）", "归还人（签字）", "2026-11-25 10:00"):
        assert words in text, words
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
    assert actions(w, "paper_loan")[-1] == "paper.slip_print"
    # Only keepers print slips; a slip of a loan that does not exist is a 404.
    raises("forbidden", slips.print_slip, w.s, w.u["staff"], loan.id, tz="Asia/Shanghai", now=printed)
    raises("paper_loan_not_found", slips.print_slip, w.s, w.u["archivist"], 999999, tz="Asia/Shanghai", now=printed)


def test_one_holder_at_a_time(w):
    r = approved(w, kind="original", records=[w.r1])
    other = approved(w, who="staff_secret", kind="original", records=[w.r1])
    L.hand_out(w.s, w.u["archivist"], r.id, w.r1.id, pages=4, now=NOW)
    raises("already_out", L.hand_out, w.s, w.u["archivist"], r.id, w.r1.id, pages=4, now=NOW)
    raises("already_out", L.hand_out, w.s, w.u["archivist2"], other.id, w.r1.id, pages=4, now=NOW)
    assert len(w.s.scalars(select(PaperLoan)).all()) == 1


def test_hand_out_refusals(w):
    pending = req(w, kind="original")
    raises("loan_not_approved", L.hand_out, w.s, w.u["archivist"], pending.id, w.r1.id, pages=1, now=NOW)
    view = approved(w, kind="view")
    raises("not_original_loan", L.hand_out, w.s, w.u["archivist"], view.id, w.r1.id, pages=1, now=NOW)
    r = approved(w, kind="original", records=[w.r1])
    raises("not_archivist", L.hand_out, w.s, w.u["staff_secret"], r.id, w.r1.id, pages=1, now=NOW)
    raises("record_not_in_request", L.hand_out, w.s, w.u["archivist"], r.id, w.r2.id, pages=1, now=NOW)
    raises("invalid_pages", L.hand_out, w.s, w.u["archivist"], r.id, w.r1.id, pages=0, now=NOW)
    raises("outside_window", L.hand_out, w.s, w.u["archivist"], r.id, w.r1.id, pages=1, now=END_OF_DAY)
    own = L.create_request(w.s, w.u["archivist"], kind="original", purpose="修复", settings=SETTINGS, now=NOW,
                           record_ids=[w.r2.id])
    archive_head = accounts.create_user(w.s, username="archive_head", password="", role="dept_head",
                                        department="档案室", password_hash="x")
    w.s.commit()
    L.approve(w.s, archive_head, own.id, settings=SETTINGS, now=NOW)
    raises("self_handout", L.hand_out, w.s, w.u["archivist"], own.id, w.r2.id, pages=1, now=NOW)
    L.revoke(w.s, w.u["staff"], r.id, reason="x", now=NOW)
    raises("loan_not_approved", L.hand_out, w.s, w.u["archivist"], r.id, w.r1.id, pages=1, now=NOW)
    assert w.s.scalar(select(PaperLoan.id)) is None


def test_return_what_was_never_handed_out(w):
    raises("not_handed_out", L.return_paper, w.s, w.u["archivist"], w.r1.id, pages_back=1, now=NOW)
    r = approved(w, kind="original", records=[w.r1])
    L.hand_out(w.s, w.u["archivist"], r.id, w.r1.id, pages=2, now=NOW)
    raises("not_archivist", L.return_paper, w.s, w.u["staff"], w.r1.id, pages_back=2, now=NOW)
    L.return_paper(w.s, w.u["archivist"], w.r1.id, pages_back=2, now=NOW + timedelta(hours=1))
    assert r.status == "closed"
    raises("not_handed_out", L.return_paper, w.s, w.u["archivist"], w.r1.id, pages_back=2, now=NOW)


def test_overdue_list(w):
    r = approved(w, kind="original", records=[w.r1, w.r2])
    L.hand_out(w.s, w.u["archivist"], r.id, w.r1.id, pages=2, now=NOW)
    L.hand_out(w.s, w.u["archivist"], r.id, w.r2.id, pages=2, now=NOW)
    assert L.overdue_paper_loans(w.s, END_OF_DAY - timedelta(seconds=1)) == []
    late = END_OF_DAY + timedelta(hours=1)
    assert {p.record_id for p in L.overdue_paper_loans(w.s, late)} == {w.r1.id, w.r2.id}
    # the window is over but originals are out: the request stays open until they are back
    assert L.expire_stale(w.s, SETTINGS, late) == {"expired": 0, "closed": 0}
    assert L.active_grant(w.s, w.u["staff"], w.r1, "view", late) is None
    L.return_paper(w.s, w.u["archivist"], w.r1.id, pages_back=2, now=late)
    assert [p.record_id for p in L.overdue_paper_loans(w.s, late)] == [w.r2.id]
    L.return_paper(w.s, w.u["archivist"], w.r2.id, pages_back=2, now=late)
    assert L.overdue_paper_loans(w.s, late) == [] and r.status == "closed"


# ------------------------------------------------------------------------------- people leave


def test_deactivating_a_user_revokes_and_hands_over_at_once(w):
    s = w.s
    pending = req(w, kind="download")
    granted = approved(w, records=[w.r2])
    paper = approved(w, kind="original", records=[w.r1])
    closed = approved(w, records=[w.r3], window_end=NOW + timedelta(hours=1))
    L.expire_stale(s, SETTINGS, NOW + timedelta(hours=2))
    assert closed.status == "closed"
    L.hand_out(s, w.u["archivist"], paper.id, w.r1.id, pages=5, now=NOW)
    s.add(ApiToken(user_id=w.u["staff"].id, name="t", token_hash="a" * 64))
    s.commit()
    raises("forbidden", L.deactivate_user, s, w.u["head"], w.u["staff"], w.u["staff_secret"], now=NOW)
    raises("invalid_successor", L.deactivate_user, s, w.u["admin"], w.u["staff"], w.u["staff"], now=NOW)

    t = NOW + timedelta(hours=3)
    h = L.deactivate_user(s, w.u["admin"], w.u["staff"], w.u["staff_secret"], now=t, note="离职交接")
    s.expire_all()
    assert not s.get(User, w.u["staff"].id).is_active_flag
    assert s.scalar(select(ApiToken.revoked_at)) == t
    assert [s.get(LoanRequest, x.id).status for x in (pending, granted, paper, closed)] == [
        "revoked", "revoked", "revoked", "closed"]
    assert s.get(Customer, w.customer.id).consultant_id == w.u["staff_secret"].id
    loan = s.scalar(select(PaperLoan))
    assert (loan.holder_id, loan.received_by_id, loan.status) == (w.u["staff_secret"].id, w.u["staff"].id, "out")
    h = s.get(Handover, h.id)
    assert (h.from_user_id, h.to_user_id, h.by_id, h.at, h.note) == (
        w.u["staff"].id, w.u["staff_secret"].id, w.u["admin"].id, t, "离职交接")
    assert (h.customers_count, h.paper_loans_count, h.requests_revoked_count) == (1, 1, 3)
    assert L.active_grant(s, w.u["staff"], w.r2, "view", t) is None
    assert L.approval_queue(s, w.u["head"], SETTINGS, t) == []
    # the successor returns the original; a deactivated user can no longer request
    L.return_paper(s, w.u["archivist"], w.r1.id, pages_back=5, now=t)
    raises("inactive_user", req, w)
    raises("already_inactive", L.deactivate_user, s, w.u["admin"], w.u["staff"], w.u["staff_secret"], now=t)
    assert {"user.deactivate", "handover"} <= set(s.scalars(select(AuditEntry.action)))


def test_a_departed_approver_decides_nothing(w):
    r = req(w)
    L.deactivate_user(w.s, w.u["admin"], w.u["head"], w.u["staff_secret"], now=NOW)
    raises("inactive_user", approve, w, r, "head")
    assert L.approval_queue(w.s, w.u["head"], SETTINGS, NOW) == []


def test_every_transition_is_in_the_audit_chain(w):
    r = req(w, kind="original", records=[w.r3])
    approve(w, r, "head")
    approve(w, r, "gm")
    L.hand_out(w.s, w.u["archivist"], r.id, w.r3.id, pages=2, now=NOW)
    L.return_paper(w.s, w.u["archivist"], w.r3.id, pages_back=2, now=NOW + timedelta(hours=1))
    assert actions(w) == ["loan.request", "loan.approve", "loan.approve", "loan.close"]
    assert audit.verify_chain(w.s) == []
    assert w.s.scalar(select(LoanApproval.id).where(LoanApproval.step == "gm")) is not None


# ------------------------------------------------------------------------------- concurrency


def test_two_simultaneous_hand_outs_exactly_one_succeeds(tmp_path, request, users_factory):
    app = make_app("postgresql-fs", tmp_path, request)
    ids = users_factory(app)
    with app.app_context():
        s = db.session
        u = {name: s.get(User, uid) for name, uid in ids.items()}
        c = customers.create_customer(s, u["archivist"], {"name": "并发", "department": "销售一部"})
        rec = _record(c, 1, 1, 1, u["archivist"])
        s.add(rec)
        s.commit()
        r = L.create_request(s, u["staff"], kind="original", purpose="核对", settings=SETTINGS, now=NOW,
                             record_ids=[rec.id])
        L.approve(s, u["head"], r.id, settings=SETTINGS, now=NOW)
        s.commit()
        rid, record_id = r.id, rec.id
        db.session.remove()

    barrier = threading.Barrier(2)
    results: list[str] = []
    lock = threading.Lock()

    def worker(archivist: str) -> None:
        with app.app_context():
            s = db.session
            actor = s.get(User, ids[archivist])
            barrier.wait()
            try:
                L.hand_out(s, actor, rid, record_id, pages=3, now=NOW)
                outcome = "ok"
            except DomainError as exc:
                outcome = exc.code
            finally:
                db.session.remove()
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("archivist", "archivist2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == ["already_out", "ok"]
    with app.app_context():
        assert len(db.session.scalars(select(PaperLoan)).all()) == 1
        assert audit.verify_chain(db.session) == []
        db.session.remove()


def test_the_database_itself_allows_one_open_paper_loan_per_record(w):
    """The partial unique index, without the service's own check: the second open row is refused."""
    from sqlalchemy.exc import IntegrityError

    r = approved(w, kind="original", records=[w.r1])
    L.hand_out(w.s, w.u["archivist"], r.id, w.r1.id, pages=2, now=NOW)
    row = {"record_id": w.r1.id, "request_id": r.id, "handed_out_by_id": w.u["archivist"].id,
           "received_by_id": w.u["staff"].id, "holder_id": w.u["staff"].id, "pages_out": 2, "out_at": NOW,
           "due_at": END_OF_DAY}
    w.s.add(PaperLoan(**row))
    with pytest.raises(IntegrityError):
        w.s.commit()
    w.s.rollback()
    # returned loans do not count: history of the same record may hold many
    L.return_paper(w.s, w.u["archivist"], w.r1.id, pages_back=2, now=NOW)
    w.s.add(PaperLoan(**row, returned_at=NOW, status="returned"))
    w.s.add(PaperLoan(**row))
    w.s.commit()
    assert len(w.s.scalars(select(PaperLoan).where(PaperLoan.record_id == w.r1.id)).all()) == 3
