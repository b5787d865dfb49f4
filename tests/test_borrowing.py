"""Borrowing wired into access: business users read and download only under an approved, open loan.

Time is injected through the services (``now=``) for the window edges; over HTTP the real clock
runs, and a loan whose window already ended is made by calling the services with a past ``now``.
"""
from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.audit.models import AuditEntry
from archive_app.borrowing import loans as L
from archive_app.borrowing.loans import LoanSettings
from archive_app.errors import DomainError
from archive_app.extensions import db
from archive_app.intake import records as R
from archive_app.intake.models import Customer, Record
from archive_app.jobs import run_pending

from .helpers import PDF_MIN, borrow, login, make_pdf, new_customer, upload

SETTINGS = LoanSettings(timezone="Asia/Shanghai", max_days=7, decision_hours=48)
# 10:00 in Shanghai; the same-day window ends at 16:00 UTC.
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def _content(rec: dict) -> str:
    return f"/api/v1/records/{rec['id']}/files/{rec['files'][0]['id']}/content"


def _filed(client, department: str = "销售一部", secrecy: int = 1, marker: str = "") -> tuple[dict, dict]:
    login(client, "archivist")
    c = new_customer(client, department=department)
    rec = upload(client, c["id"], [(make_pdf(marker=marker) if marker else PDF_MIN, "a.pdf")],
                 secrecy=secrecy).json
    client.post("/logout")
    return c, rec


def _users(*names: str) -> list[User]:
    return [db.session.scalar(select(User).where(User.username == n)) for n in names]


def _refusal(fn) -> str:
    with pytest.raises(DomainError) as excinfo:
        fn()
    return excinfo.value.code


# ---------------------------------------------------------------------------------------------- policy (pure)


def test_policy_asks_the_injected_grant_checker_for_business_roles_only():
    record = Record(secrecy=1, customer=Customer(department_id=1))  # transient rows, no database

    def user(role: str, clearance: int = 1, department_id: int | None = 1):
        return SimpleNamespace(is_authenticated=True, is_active=True, role=role, clearance=clearance,
                               department_id=department_id, id=7)

    asked = []

    def grants(kinds: set[str]):
        def check(rec, action):
            asked.append(action)
            return action in kinds
        return check

    staff = user("staff")
    assert not policy.can(staff, "record.download", record)  # no checker: no grant assumed
    assert not policy.can(staff, "record.read", record)
    assert policy.can(staff, "record.read", record, grants({"view"}))
    assert not policy.can(staff, "record.download", record, grants({"view"}))
    assert policy.can(staff, "record.download", record, grants({"view", "download"}))
    assert asked == ["view", "download", "download"]
    # clearance ceiling and department still hold, whatever the grant says
    assert not policy.can(user("staff", clearance=0), "record.download", record, grants({"download"}))
    assert not policy.can(user("staff", department_id=2), "record.read", record, grants({"view"}))
    for role in ("dept_head", "general_manager"):
        assert not policy.can(user(role), "record.download", record)
        assert policy.can(user(role), "record.download", record, grants({"download"}))
    # the catalogue keepers keep their access; auditors never read or download
    for role in ("archivist", "reviewer", "admin"):
        assert policy.can(user(role, clearance=3), "record.download", record)
        assert policy.can(user(role, clearance=3), "record.read", record)
    assert not policy.can(user("auditor", clearance=3), "record.download", record, grants({"download"}))
    assert not policy.can(user("auditor", clearance=3), "record.read", record, grants({"view"}))
    # who may ask, decide, and hand out paper
    assert policy.can(staff, "loan.request") and policy.can(staff, "loan.request", record)
    assert not policy.can(user("staff", department_id=None), "loan.request")
    assert not policy.can(user("archivist"), "loan.request")
    assert policy.can(user("dept_head"), "loan.approve") and policy.can(user("general_manager"), "loan.approve")
    assert not policy.can(staff, "loan.approve")
    assert policy.can(user("archivist"), "paper.manage") and not policy.can(staff, "paper.manage")


# ---------------------------------------------------------------------------------------------- window edges


def test_download_window_edges_with_injected_time(app, client, users):
    _, rec = _filed(client)
    with app.app_context():
        s = db.session
        staff, head, gm = _users("staff", "head", "gm")
        download = lambda now: R.get_record(s, staff, rec["id"], "record.download", now=now)
        assert _refusal(lambda: download(NOW)) == "no_loan"
        req = L.create_request(s, staff, kind="download", purpose="核对", settings=SETTINGS, now=NOW,
                               record_ids=[rec["id"]])
        assert _refusal(lambda: download(NOW)) == "no_loan"  # pending is not a loan
        L.approve(s, head, req.id, settings=SETTINGS, now=NOW + timedelta(minutes=5))
        assert _refusal(lambda: download(NOW)) == "no_loan"  # the head alone is not enough for a download
        L.approve(s, gm, req.id, settings=SETTINGS, now=NOW + timedelta(minutes=10))
        assert download(NOW + timedelta(minutes=11)).id == rec["id"]
        assert download(req.window_end - timedelta(seconds=1)).id == rec["id"]
        assert _refusal(lambda: download(req.window_end + timedelta(minutes=1))) == "outside_window"
        assert _refusal(lambda: download(req.window_start - timedelta(minutes=1))) == "outside_window"
        # the grant is personal: a colleague of the same department has no loan
        colleague, = _users("staff_secret")
        assert _refusal(lambda: R.get_record(s, colleague, rec["id"], "record.download", now=NOW)) == "no_loan"


def test_view_only_loan_reads_pages_but_never_downloads(app, client, users):
    _, rec = _filed(client)
    with app.app_context():
        s = db.session
        staff, head = _users("staff", "head")
        req = L.create_request(s, staff, kind="view", purpose="查阅", settings=SETTINGS, now=NOW,
                               record_ids=[rec["id"]])
        L.approve(s, head, req.id, settings=SETTINGS, now=NOW)
        assert req.status == "approved"  # 内部 view: the head's approval is final
        later = NOW + timedelta(hours=1)
        assert R.get_record(s, staff, rec["id"], "record.read", now=later).id == rec["id"]
        assert _refusal(lambda: R.get_record(s, staff, rec["id"], "record.download", now=later)) == "view_only_loan"
        assert R.content_rights(s, staff, s.get(Record, rec["id"]), now=later) == {"read": True, "download": False}


# ---------------------------------------------------------------------------------------------- over HTTP


def test_staff_download_over_http_needs_an_approved_loan(app, client, users):
    c, rec = _filed(client)
    login(client, "staff")
    refused = client.get(_content(rec))
    assert refused.status_code == 403 and refused.json["error"]["code"] == "no_loan"
    page = client.get(f"/records/{rec['id']}").text
    assert "申请查阅" in page and "无下载权限" in page
    assert "申请查阅" in client.get(f"/customers/{c['id']}").text
    client.post("/logout")

    loan = borrow(client, "staff", [rec["id"]])
    assert loan["needs_gm"] and [a["step"] for a in loan["approvals"]] == ["head", "gm"]
    got = client.get(_content(rec))
    # the borrower gets a watermarked copy under the request number, not the stored bytes
    assert got.status_code == 200 and got.data.startswith(b"%PDF-") and got.data != PDF_MIN
    assert loan["request_no"] in PdfReader(io.BytesIO(got.data)).pages[0].extract_text()
    assert 'class="button" href="/records/' in client.get(f"/records/{rec['id']}").text  # the 下载 button
    client.post("/logout")
    with app.app_context():
        downloads = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "file.download")).all()
        assert [d.actor_name for d in downloads] == ["staff"]


def test_a_loan_whose_window_ended_is_refused_over_http(app, client, users):
    _, rec = _filed(client)
    past = datetime.now(UTC) - timedelta(days=2)
    with app.app_context():
        s = db.session
        staff, head, gm = _users("staff", "head", "gm")
        req = L.create_request(s, staff, kind="download", purpose="上周核对", settings=SETTINGS, now=past,
                               record_ids=[rec["id"]])
        L.approve(s, head, req.id, settings=SETTINGS, now=past)
        L.approve(s, gm, req.id, settings=SETTINGS, now=past)
        assert req.window_end < datetime.now(UTC)
        s.commit()
    login(client, "staff")
    resp = client.get(_content(rec))
    assert resp.status_code == 403 and resp.json["error"]["code"] == "outside_window"


def test_view_loan_over_http_shows_pages_not_files(app, client, users):
    _, rec = _filed(client)
    with app.app_context():
        assert run_pending() >= 1
    fid = rec["files"][0]["id"]
    login(client, "staff")
    refused = client.get(f"/records/{rec['id']}/files/{fid}/pages/1/thumb", headers={"Accept": "application/json"})
    assert refused.status_code == 403 and refused.json["error"]["code"] == "no_loan"
    client.post("/logout")
    borrow(client, "staff", [rec["id"]], kind="view", approvers=("head",))
    thumb = client.get(f"/records/{rec['id']}/files/{fid}/pages/1/thumb")
    assert thumb.status_code == 200 and thumb.data[:3] == b"\xff\xd8\xff"
    assert client.get(f"/records/{rec['id']}/files/{fid}/pages/1").status_code == 200
    assert client.get(f"/api/v1/records/{rec['id']}/files/{fid}/pages").status_code == 200
    assert f"/files/{fid}/pages/1/thumb" in client.get(f"/records/{rec['id']}").text
    resp = client.get(_content(rec))
    assert resp.status_code == 403 and resp.json["error"]["code"] == "view_only_loan"


def test_search_shows_a_records_words_only_to_who_may_read_it(app, client, users):
    """Search tells staff that a record matches, never its text, until a loan lets them read it."""
    from .generated import pdfs

    login(client, "archivist")
    c = new_customer(client, department="销售一部")
    rec = upload(client, c["id"], [(pdfs.text_pdf(["Mortgage clause quinquereme applies"], marker="snip"), "a.pdf")],
                 secrecy=1).json
    client.post("/logout")
    with app.app_context():
        assert run_pending() >= 1

    def hit(username: str) -> tuple[dict, str]:
        login(client, username)
        found = client.get("/api/v1/search", query_string={"q": "quinquereme"}).json
        page = client.get("/search", query_string={"q": "quinquereme"}).text
        client.post("/logout")
        assert found["total"] == 1 and found["items"][0]["record"]["id"] == rec["id"], (username, found)
        return found["items"][0], page

    for who in ("staff", "head", "gm", "auditor"):  # they see the hit, not one word of the page
        item, page = hit(who)
        assert item["snippet"] == "" and "<mark>" not in page, who
    item, page = hit("archivist")
    assert "<mark>" in item["snippet"] and "<mark>" in page
    borrow(client, "staff", [rec["id"]], kind="view", approvers=("head",))
    client.post("/logout")
    item, page = hit("staff")  # an open 查阅 loan: now the words show
    assert "<mark>" in item["snippet"] and "<mark>" in page
    assert hit("head")[0]["snippet"] == ""  # the loan is the staff member's, not their department's


# ---------------------------------------------------------------------------------------------- the API


def test_loan_api_request_decide_revoke(app, client, users):
    _, rec = _filed(client)
    _, other = _filed(client, department="销售二部", marker="o")
    login(client, "staff")
    # records the requester may not see answer like missing ones
    hidden = client.post("/api/v1/loans", json={"kind": "view", "purpose": "x", "record_ids": [other["id"]]})
    assert hidden.status_code == 404 and hidden.json["error"]["code"] == "not_found"
    bad = client.post("/api/v1/loans", json={"kind": "borrow", "purpose": "x", "record_ids": [rec["id"]]})
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_kind"
    long = client.post("/api/v1/loans", json={"kind": "view", "purpose": "x", "record_ids": [rec["id"]],
                                              "window_end": (datetime.now(UTC) + timedelta(days=3)).date().isoformat()})
    assert long.status_code == 400 and long.json["error"]["code"] == "reason_required"
    first = client.post("/api/v1/loans", json={"kind": "view", "purpose": "办按揭", "record_ids": [rec["id"]],
                                               "window_end": (datetime.now(UTC) + timedelta(days=3)).date().isoformat(),
                                               "reason": "银行审核需要三天"}).json
    second = client.post("/api/v1/loans", json={"kind": "view", "purpose": "再看", "record_ids": [rec["id"]]}).json
    assert first["status"] == "pending_head" and first["reason"] == "银行审核需要三天"
    assert [r["id"] for r in client.get("/api/v1/loans").json["items"]] == [second["id"], first["id"]]
    assert client.get("/api/v1/loans/queue").json["items"] == []
    revoked = client.post(f"/api/v1/loans/{second['id']}/revoke", json={"reason": "不需要了"})
    assert revoked.status_code == 200 and revoked.json["status"] == "revoked"
    assert client.post(f"/api/v1/loans/{first['id']}/approve").json["error"]["code"] == "self_approval"
    client.post("/logout")

    login(client, "head")
    assert [r["id"] for r in client.get("/api/v1/loans/queue").json["items"]] == [first["id"]]
    no_reason = client.post(f"/api/v1/loans/{first['id']}/reject", json={})
    assert no_reason.status_code == 400 and no_reason.json["error"]["code"] == "reason_required"
    rejected = client.post(f"/api/v1/loans/{first['id']}/reject", json={"reason": "用途不明确"})
    assert rejected.status_code == 200 and rejected.json["status"] == "rejected"
    again = client.post(f"/api/v1/loans/{first['id']}/approve")
    assert again.status_code == 409 and again.json["error"]["code"] == "loan_not_pending"
    assert client.get("/api/v1/loans/queue").json["items"] == []
    client.post("/logout")
    login(client, "staff")
    whole = client.post("/api/v1/loans", json={"kind": "view", "purpose": "整理", "customer_id": rec["customer_id"]})
    assert whole.status_code == 201 and [r["id"] for r in whole.json["records"]] == [rec["id"]]
    assert client.post("/api/v1/loans", json={"kind": "view", "purpose": "x",
                                              "customer_id": other["customer_id"]}).status_code == 404
    client.post("/logout")
    login(client, "archivist")
    assert client.post("/api/v1/loans", json={"kind": "view", "purpose": "x",
                                              "record_ids": [rec["id"]]}).status_code == 403


def test_paper_loan_api_hand_out_and_return(app, client, users):
    _, rec = _filed(client)
    # 购房合同 is filed in part 3 (交易状况): its paper original needs the general manager too
    loan = borrow(client, "staff", [rec["id"]], kind="original")
    assert client.post("/api/v1/paper-loans", json={"request_id": loan["id"], "record_id": rec["id"],
                                                    "pages": 3}).status_code == 403
    assert client.get("/api/v1/paper-loans/overdue").status_code == 403
    client.post("/logout")
    login(client, "archivist")
    page = client.get("/paper").text
    assert loan["request_no"] in page and "借出" in page
    assert client.post("/paper/hand-out", data={"request_id": loan["id"], "record_id": rec["id"],
                                                 "pages": "x"}).status_code == 302
    assert "借出页数须为整数" in client.get("/paper").text
    out = client.post("/api/v1/paper-loans", json={"request_id": loan["id"], "record_id": rec["id"], "pages": 3})
    assert out.status_code == 201 and out.json["pages_out"] == 3 and out.json["holder"] == "staff"
    twice = client.post("/api/v1/paper-loans", json={"request_id": loan["id"], "record_id": rec["id"], "pages": 3})
    assert twice.status_code == 409 and twice.json["error"]["code"] == "already_out"
    assert client.get("/api/v1/paper-loans/overdue").json["items"] == []  # due at the end of today
    page = client.get("/paper").text
    assert rec["archival_code"] in page and "已借出" in page
    short = client.post(f"/api/v1/paper-loans/{rec['id']}/return", json={"pages_back": 2})
    assert short.status_code == 400 and short.json["error"]["code"] == "condition_note_required"
    back = client.post(f"/api/v1/paper-loans/{rec['id']}/return", json={"pages_back": 2, "condition_note": "缺第3页"})
    assert back.status_code == 200 and back.json["status"] == "returned" and back.json["pages_back"] == 2
    missing = client.post(f"/api/v1/paper-loans/{rec['id']}/return", json={"pages_back": 2})
    assert missing.status_code == 409 and missing.json["error"]["code"] == "not_handed_out"


def test_overdue_list_shows_originals_past_due(app, client, users):
    _, rec = _filed(client)
    past = datetime.now(UTC) - timedelta(days=2)
    with app.app_context():
        s = db.session
        staff, head, gm, archivist = _users("staff", "head", "gm", "archivist")
        req = L.create_request(s, staff, kind="original", purpose="签字", settings=SETTINGS, now=past,
                               record_ids=[rec["id"]])
        L.approve(s, head, req.id, settings=SETTINGS, now=past)
        L.approve(s, gm, req.id, settings=SETTINGS, now=past)
        L.hand_out(s, archivist, req.id, rec["id"], pages=4, now=past + timedelta(minutes=1))
    login(client, "archivist")
    items = client.get("/api/v1/paper-loans/overdue").json["items"]
    assert [i["record_id"] for i in items] == [rec["id"]]
    page = client.get("/paper/overdue").text
    assert rec["archival_code"] in page and "逾期" in page
    resp = client.post(f"/paper/{rec['id']}/return", data={"pages_back": "4", "back": "overdue"})
    assert resp.status_code == 302 and resp.location.endswith("/paper/overdue")
    assert client.get("/api/v1/paper-loans/overdue").json["items"] == []


# ---------------------------------------------------------------------------------------------- the pages


def test_borrowing_pages_and_nav_by_role(app, client, users):
    c, rec = _filed(client)
    expect = {"staff": ({"我的申请"}, {"待我审批", "原件借还"}),
              "head": ({"我的申请", "待我审批"}, {"原件借还"}),
              "archivist": ({"原件借还", "逾期未还"}, {"我的申请", "待我审批"}),
              "auditor": (set(), {"我的申请", "待我审批", "原件借还"})}
    for name, (shown, hidden) in expect.items():
        login(client, name)
        nav = client.get("/").text.split("</nav>")[0]
        assert all(s in nav for s in shown) and not any(h in nav for h in hidden), name
        client.post("/logout")

    login(client, "staff")
    form = client.get("/loans/new", query_string={"record_ids": rec["id"]})
    assert form.status_code == 200 and "借阅方式" in form.text and rec["archival_code"] in form.text
    assert client.get("/loans/new", query_string={"customer_id": c["id"]}).status_code == 200
    empty = client.post("/loans/new", data={"record_ids": str(rec["id"]), "kind": "view", "purpose": ""})
    assert empty.status_code == 400 and "请填写借阅用途" in empty.text
    sent = client.post("/loans/new", data={"record_ids": str(rec["id"]), "kind": "view", "purpose": "核对房号"})
    assert sent.status_code == 302 and sent.location.endswith("/loans")
    mine = client.get("/loans").text
    assert "核对房号" in mine and "待部门负责人审批" in mine
    assert client.get("/loans/queue").status_code == 403
    client.post("/logout")

    login(client, "head")
    queue = client.get("/loans/queue").text
    assert "核对房号" in queue and "批准" in queue and "驳回" in queue
    loan_id = client.get("/api/v1/loans/queue").json["items"][0]["id"]
    assert client.post(f"/loans/{loan_id}/reject", data={"reason": "请写清楚用途"}).status_code == 302
    assert "核对房号" not in client.get("/loans/queue").text
    client.post("/logout")

    login(client, "staff")
    mine = client.get("/loans").text
    assert "已驳回" in mine and "请写清楚用途" in mine
    client.post("/logout")
    login(client, "staff_other")  # another department: no form for a file they cannot see
    assert client.get("/loans/new", query_string={"record_ids": rec["id"]}).status_code == 404


def test_periodic_job_expires_undecided_requests(app, users):
    """The worker's five-minute job ages pending requests out (the service decides what is stale)."""
    from datetime import timedelta

    from sqlalchemy import select, update

    from archive_app.accounts.models import User
    from archive_app.borrowing import loans
    from archive_app.borrowing.models import LoanRequest
    from archive_app.clock import utcnow
    from archive_app.extensions import db

    from .helpers import login, make_pdf, new_customer, upload

    client = app.test_client()
    login(client, "archivist")
    c = new_customer(client, department="销售一部")
    rec = upload(client, c["id"], [(make_pdf(marker="exp"), "e.pdf")]).json
    with app.app_context():
        settings = loans.LoanSettings.from_config(app.config)
        staff = db.session.get(User, users["staff"])
        req = loans.create_request(db.session, staff, kind="view", purpose="核对合同", settings=settings,
                                   now=utcnow(), record_ids=[rec["id"]])
        db.session.execute(update(LoanRequest).where(LoanRequest.id == req.id)
                           .values(created_at=utcnow() - timedelta(hours=settings.decision_hours + 1)))
        db.session.commit()
        req_id = req.id
    result = app.extensions["tasks"]["expire_loans"].call_local()
    assert result["expired"] == 1
    with app.app_context():
        assert db.session.scalar(select(LoanRequest.status).where(LoanRequest.id == req_id)) == "expired"


def test_inbox_tells_borrower_archivist_and_approvers_what_waits(app, users):
    """Overdue originals reach the borrower's and the archivist's inbox; pending requests the head's."""
    from archive_app.accounts.models import User
    from archive_app.borrowing import loans
    from archive_app.inbox import notices

    from .factories import make_customer, make_record

    now = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    settings = loans.LoanSettings()
    with app.app_context():
        s = db.session
        u = {n: s.get(User, i) for n, i in users.items()}
        rec = make_record(make_customer(name="赵六", department="销售一部"), record_type="购房合同")
        req = loans.create_request(s, u["staff"], kind="original", purpose="核对原件", settings=settings, now=now,
                                   record_ids=[rec.id])
        head_box = notices.inbox(s, u["head"], settings, now)
        assert [n.text for n in head_box] == ["有 1 件借阅申请待您审批"]
        loans.approve(s, u["head"], req.id, settings=settings, now=now)
        loans.approve(s, u["gm"], req.id, settings=settings, now=now)  # part 3 original: the GM too
        assert any("原件借阅待办理借出" in n.text for n in notices.inbox(s, u["archivist"], settings, now))
        loans.hand_out(s, u["archivist"], req.id, rec.id, pages=5, now=now)
        late = now + timedelta(days=1)
        mine = [n for n in notices.inbox(s, u["staff"], settings, late) if n.level == "urgent"]
        assert len(mine) == 1 and rec.archival_code in mine[0].text and "已逾期" in mine[0].text
        theirs = [n for n in notices.inbox(s, u["archivist"], settings, late) if n.level == "urgent"]
        assert len(theirs) == 1 and "staff 借出的原件" in theirs[0].text
        loans.return_paper(s, u["archivist"], rec.id, pages_back=5, now=late)
        assert not [n for n in notices.inbox(s, u["staff"], settings, late) if n.level == "urgent"]


def test_inbox_page_renders_for_every_role(app, client, users):
    from .helpers import login

    for name in ("staff", "head", "gm", "archivist", "auditor", "admin"):
        login(client, name)
        page = client.get("/inbox")
        assert page.status_code == 200 and "消息" in page.text, name
        client.post("/logout")
    # a request waiting for the head shows as a badge on the head's pages
    from archive_app.borrowing import loans

    from .factories import make_customer, make_record, user

    with app.app_context():
        rec = make_record(make_customer(name="钱七", department="销售一部"), record_type="温馨卡")
        loans.create_request(db.session, user("staff"), kind="view", purpose="回访", settings=loans.LoanSettings(),
                             now=datetime.now(UTC), record_ids=[rec.id])
        db.session.commit()
    login(client, "head")
    assert '<span class="badge" title="待办">1</span>' in client.get("/customers").text
    assert "有 1 件借阅申请待您审批" in client.get("/inbox").text
