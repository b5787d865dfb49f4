"""Reports out (报表) and the landing page (工作台), on both stacks.

A small world: customers of 销售一部 and 销售二部 whose grades moved over several weeks (some down,
with reasons), visitor cards with visits, deals, and follow-ups. The weekly grade report is held
against a count made here by replaying each customer's history.
"""
from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from archive_app.accounts.models import Department
from archive_app.audit.models import AuditEntry
from archive_app.extensions import db
from archive_app.intake.models import Customer
from archive_app.reports import charts
from archive_app.reports.periods import monday, period_for
from archive_app.reports.tables import Chart, Series
from archive_app.visits.grades import set_grade
from archive_app.visits.models import CardVisit, FollowUp, GradeChange, VisitorCard

from .conftest import PASSWORD
from .factories import make_customer, user
from .helpers import login

# Monday 2026-11-30, 10:00 in Asia/Shanghai
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
TODAY = date(2026, 11, 30)
FROM, TO = "2026-10-05", "2026-11-30"
# (department, name, [(day, grade, reason)]) — every move dated inside or around the period
HISTORIES = [
    ("销售一部", "甲一", [(date(2026, 9, 20), "A", ""), (date(2026, 10, 14), "B", "预算不足"), (date(2026, 11, 4), "D", "已购他盘")]),
    ("销售一部", "甲二", [(date(2026, 10, 6), "C", ""), (date(2026, 10, 20), "B", ""), (date(2026, 11, 18), "A", "")]),
    ("销售一部", "甲三", [(date(2026, 10, 12), "B", ""), (date(2026, 11, 30), "C", "暂缓购房")]),
    ("销售一部", "甲四", []),
    ("销售二部", "乙一", [(date(2026, 10, 8), "A", ""), (date(2026, 10, 30), "C", "乙部降级原因")]),
    ("销售二部", "乙二", [(date(2026, 11, 2), "D", "")]),
]


@pytest.fixture
def world(app, users):
    app.config["CLOCK"] = lambda: NOW
    with app.app_context():
        clerk = user("archivist")
        ids = {}
        for i, (department, name, moves) in enumerate(HISTORIES):
            c = make_customer(name=name, department=department, project="江南府" if i % 2 else "滨江苑",
                              consultant_id=users["staff"] if department == "销售一部" else users["staff_other"])
            for day, grade, reason in moves:
                set_grade(db.session, clerk, c, grade, reason=reason, now=NOW, changed_on=day)
            card = VisitorCard(customer_id=c.id, consultant_id=c.consultant_id, created_by_id=clerk.id,
                               scouting=name == "甲四")
            card.visits = [CardVisit(visit_no=n + 1, visited_on=date(2026, 11, 2) + timedelta(days=3 * n + i))
                           for n in range(2)]
            db.session.add(card)
            if name in ("甲一", "乙一"):
                c.deal_closed_on = date(2026, 11, 20)
            db.session.add(FollowUp(customer_id=c.id, department_id=c.department_id, assignee_id=c.consultant_id,
                                    due_on=date(2026, 11, 25)))
            ids[name] = c.id
        db.session.commit()
    return ids


def _as(client, username: str) -> None:
    client.post("/logout")
    login(client, username)


def _replayed_counts(app, department: str | None) -> dict[str, dict[str, int]]:
    """Customers per grade at each Sunday, counted here from every customer's full history."""
    with app.app_context():
        changes = db.session.execute(select(GradeChange.customer_id, GradeChange.changed_on, GradeChange.id,
                                            GradeChange.to_grade)).all()
        dept_of = dict(db.session.execute(select(Customer.id, Department.name).join(
            Department, Department.id == Customer.department_id)).all())
    out = {}
    for week in period_for(TODAY, date.fromisoformat(FROM), date.fromisoformat(TO)).weeks:
        end = week + timedelta(days=6)
        latest: dict[int, tuple] = {}
        for cid, day, cid_order, grade in changes:
            if day <= end and (department is None or dept_of[cid] == department):
                if cid not in latest or (day, cid_order) > latest[cid][:2]:
                    latest[cid] = (day, cid_order, grade)
        counts = dict.fromkeys("ABCD", 0)
        for _day, _id, grade in latest.values():
            counts[grade] += 1
        out[week.isoformat()] = counts
    return out


def test_the_weekly_grade_report_equals_a_count_made_here(app, client, world):
    _as(client, "gm")
    resp = client.get("/api/v1/reports/grades", query_string={"from": FROM, "to": TO})
    assert resp.status_code == 200, resp.json
    body = resp.json
    assert (body["report"], body["scope"], body["from"], body["to"]) == ("grades", "全公司", "2026-10-05", "2026-12-06")
    weeks = body["tables"][0]
    assert weeks["columns"] == ["周（周一）", "A 级", "B 级", "C 级", "D 级", "合计", "降级"]
    expected = _replayed_counts(app, None)
    assert {r[0]: dict(zip("ABCD", r[1:5], strict=True)) for r in weeks["rows"]} == expected
    # the counts moved: not the same in every week
    assert len({tuple(v.values()) for v in expected.values()}) > 3
    # four downgrades in the period (A→B, B→D, A→C, B→C), each listed with its reason
    assert sum(r[6] for r in weeks["rows"]) == 4
    downgrades = body["tables"][1]
    assert sorted(r[5] for r in downgrades["rows"]) == sorted(["预算不足", "已购他盘", "乙部降级原因", "暂缓购房"])
    # the page draws its charts as SVG with titles
    page = client.get("/reports/grades", query_string={"from": FROM, "to": TO}).get_data(as_text=True)
    assert "<svg" in page and "<title" in page and "各等级客户数" in page and "乙部降级原因" in page
    # its downgrades exported to XLSX: titled with the report and scope, the headers, every row; audited
    resp = client.get("/reports/grades.xlsx", query_string={"from": FROM, "to": TO, "table": "downgrades"})
    assert resp.status_code == 200
    sheet = load_workbook(io.BytesIO(resp.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert "客户等级周报" in rows[0][0] and "全公司" in rows[0][0]
    assert list(rows[1]) == ["日期", "客户号", "客户", "原等级", "新等级", "降级原因", "经办人"]
    assert sorted(r[5] for r in rows[2:]) == sorted(["预算不足", "已购他盘", "乙部降级原因", "暂缓购房"])
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "report.export"))
        assert entry is not None and entry.actor_id == user("gm").id
    assert client.get("/reports/grades.xlsx", query_string={"table": "nope"}).status_code == 404


def test_a_head_lands_on_the_dashboard_and_sees_only_their_department(app, client, world):
    client.post("/logout")
    resp = client.post("/login", data={"username": "head", "password": PASSWORD})
    assert resp.headers["Location"].endswith("/dashboard")
    page = client.get("/dashboard").get_data(as_text=True)
    assert "待我审批" in page and "/loans/queue" in page and "/change-requests/queue" in page
    assert "销售一部 · 本周" in page and page.count("<svg") == 2 and 'class="bar"' in page
    body = client.get("/api/v1/reports/grades", query_string={"from": FROM, "to": TO}).json
    assert body["scope"] == "销售一部"
    expected = _replayed_counts(app, "销售一部")
    assert {r[0]: dict(zip("ABCD", r[1:5], strict=True)) for r in body["tables"][0]["rows"]} == expected
    assert "乙部降级原因" not in str(body)
    visits = client.get("/api/v1/reports/visits", query_string={"from": FROM, "to": TO}).json
    week_rows = visits["tables"][0]["rows"]
    # 销售一部: four customers with two visits each, 甲四's two are 踩盘 (counted apart); one deal
    assert (sum(r[1] for r in week_rows), sum(r[3] for r in week_rows), sum(r[4] for r in week_rows)) == (6, 2, 1)
    _as(client, "gm")
    tables = client.get("/api/v1/reports/visits", query_string={"from": FROM, "to": TO}).json["tables"]
    week_rows = tables[0]["rows"]
    # the company: twelve visits, 甲四's two 踩盘 apart (its first visit no first visit either); two deals
    assert [sum(r[i] for r in week_rows) for i in (1, 2, 3, 4)] == [10, 5, 2, 2]
    # per consultant and per project the same visits, first visits and deals
    for table in tables[1:]:
        assert [sum(r[i] for r in table["rows"]) for i in (1, 2, 3)] == [10, 5, 2], table["key"]
    # the customers report splits retained (成交) from potential ones
    _as(client, "head")
    customers = client.get("/api/v1/reports/customers").json["tables"][0]["rows"]
    assert customers[-1] == ["合计", 1, 3, 4]
    follow = client.get("/api/v1/reports/follow-ups").json["tables"][0]["rows"]
    assert follow == [["staff", 4, 0, 0, 0]]


def test_roles_without_the_report_are_refused_and_land_on_their_own_dashboard(app, client, world):
    _as(client, "staff")
    page = client.get("/dashboard").get_data(as_text=True)
    assert "我的回访" in page and "/follow-ups" in page and "<svg" not in page
    assert client.get("/reports/grades").status_code == 403
    assert client.get("/api/v1/reports/visits").status_code == 403
    assert client.get("/reports/grades.xlsx").status_code == 403
    assert client.get("/api/v1/reports").status_code == 403
    # the archivist reads the archive's figures, not the sales office's
    _as(client, "archivist")
    assert client.get("/api/v1/reports/grades").status_code == 403
    records = client.get("/api/v1/reports/records")
    assert records.status_code == 200 and records.json["scope"] == "全公司"
    assert [i["report"] for i in client.get("/api/v1/reports").json["items"]] == ["borrowing", "records"]
    assert client.get("/api/v1/reports/nothing").status_code == 404
    assert client.get("/api/v1/reports/records", query_string={"from": "2026-12-01", "to": "2026-11-01"}).status_code == 400
    page = client.get("/dashboard").get_data(as_text=True)
    for text in ("今日录入", "待审核", "文字识别失败", "到期待鉴定", "/retention/due", "result=failed"):
        assert text in page, text
    assert "<svg" not in page


def test_a_bar_chart_draws_each_value_to_scale_with_titles():
    chart = Chart("bar", "每周<来访>", ["11-02", "11-09"], [Series("来访", [5, 10]), Series("成交", [0, 2])])
    svg = str(charts.draw(chart))
    assert svg.startswith("<svg") and 'role="img"' in svg and "每周&lt;来访&gt;" in svg
    assert "<title>11-09 · 来访：10</title>" in svg
    heights = [float(h) for h in re.findall(r'class="bar"[^>]*height="([0-9.]+)"', svg)]
    assert heights[0] * 2 == pytest.approx(heights[2], abs=0.2) and heights[1] == 0 and heights[2] > 0
    line = str(charts.draw(Chart("line", "趋势", ["a", "b"], [Series("A 级", [1, 3])])))
    assert "<polyline" in line and line.count('class="point"') == 2
    assert monday(date(2026, 12, 6)) == date(2026, 11, 30)
