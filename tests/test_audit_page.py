"""The audit log page people read, on both stacks: Chinese targets with links and readable details, filters
by person, kind of action, record or customer and dates; the filtered view exported (and that audited); the
chain's last verification at the top. Plus the plain-Chinese answers of point 5 (long search, header name,
file types, an undated record's retention basis)."""
from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

from openpyxl import load_workbook
from sqlalchemy import select

from archive_app.audit.models import AuditEntry
from archive_app.extensions import db
from archive_app.retention.schedule import CustomerEvents, RecordFacts, Rule, disposal_for
from archive_app.vocabulary import file_type_label

from .factories import make_customer, make_record
from .helpers import login


def _world(app) -> dict:
    with app.app_context():
        c = make_customer(name="审计客户")
        other = make_customer(name="旁人客户")
        rec = make_record(c, title="购房合同 审计")
        make_record(other, title="购房合同 旁人")
        return {"code": rec.archival_code, "rid": rec.id, "cid": c.id, "cno": c.customer_no}


def test_the_log_names_targets_in_chinese_with_links_and_filters_by_person_kind_target_and_dates(app, client, users):
    w = _world(app)
    login(client, "admin")
    page = client.get("/audit", query_string={"target": w["code"]}).text
    rows = page.split("<tbody>")[1]
    # The record's entries only, each naming it by 档号 and linking to its page; actors link to their account.
    assert f'<a href="/records/{w["rid"]}">档案 {w["code"]}</a>' in rows
    assert "旁人" not in rows and "审核归档" in rows and "新建档案" in rows
    assert f'href="/admin/users/{users["reviewer"]}">reviewer</a>' in rows
    # Details as Chinese key: value lines, never JSON.
    assert '<span class="muted">档号：</span>' in rows and '"archival_code"' not in rows and "{&#34;" not in rows

    by_customer = client.get("/audit", query_string={"target": w["cno"], "action": "record"}).text
    assert w["code"] in by_customer and "旁人" not in by_customer.split("<tbody>")[1]
    people = client.get("/audit", query_string={"user": "reviewer", "action": "record"}).text.split("<tbody>")[1]
    assert people.count("<tr>") == 2 and "审核归档" in people and "新建档案" not in people
    today = datetime.now(UTC).date()
    past = client.get("/audit", query_string={"date_from": (today - timedelta(days=9)).isoformat(),
                                              "date_to": (today - timedelta(days=2)).isoformat()}).text
    assert "没有符合条件的记录" in past
    backwards = client.get("/audit", query_string={"date_from": today.isoformat(),
                                                   "date_to": (today - timedelta(days=1)).isoformat()})
    assert backwards.status_code == 400 and "开始日期不能晚于结束日期" in backwards.text


def test_the_filtered_log_exports_as_xlsx_and_csv_and_the_export_is_audited(app, client, users):
    w = _world(app)
    login(client, "auditor")
    xlsx = client.get("/audit.xlsx", query_string={"target": w["code"]})
    assert xlsx.status_code == 200 and xlsx.headers["Cache-Control"] == "no-store"
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    header = next(i for i, r in enumerate(cells) if r[0] == "序号")
    body = cells[header + 1:]
    assert cells[header][:7] == ["序号", "时间", "操作人", "操作", "对象", "IP", "详情"]
    assert {r[3] for r in body} >= {"新建档案", "审核归档"} and all(r[4] == f"档案 {w['code']}" for r in body)
    assert any(f"档号：{w['code']}" in (r[6] or "") for r in body)
    assert f"对象 {w['code']}" in str(cells[0][0])  # the title names the filter

    csv_resp = client.get("/audit.csv", query_string={"action": "record.review"})
    rows = list(csv.reader(io.StringIO(csv_resp.data.decode("utf-8-sig"))))
    assert rows[0][3] == "操作" and {r[3] for r in rows[1:]} == {"审核归档"} and len(rows) == 3
    with app.app_context():
        exports = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "audit.export")
                                     .order_by(AuditEntry.seq)).all()
        assert [(e.actor_name, e.object_id) for e in exports] == [("auditor", "xlsx"), ("auditor", "csv")]
        assert json.loads(exports[0].details)["filters"] == {"target": w["code"]}
        assert json.loads(exports[1].details)["rows"] == 2
    # Those who may not read the log may not export it either.
    client.post("/logout")
    login(client, "archivist")
    assert client.get("/audit.csv").status_code == 403


def test_the_chain_state_shows_the_last_verification_who_and_whether_intact(app, client, users):
    _world(app)
    login(client, "auditor")
    assert "尚未校验" in client.get("/audit").text
    assert client.post("/audit/verify").status_code == 302
    top = client.get("/audit").text.split('id="chain-state"')[1].split("</section>")[0]
    assert "日志链完整" in top and "校验人：auditor" in top
    # Someone edits an entry behind the application's back: the next check says so, by whom it was run.
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "record.review"))
        entry.details = entry.details.replace("filed", "draft")
        db.session.commit()
    client.post("/logout")
    login(client, "admin")
    client.post("/audit/verify")
    top = client.get("/audit").text.split('id="chain-state"')[1].split("</section>")[0]
    assert "日志链校验未通过" in top and "校验人：admin" in top
    with app.app_context():
        checks = db.session.scalars(select(AuditEntry.details).where(AuditEntry.action == "audit.verify")
                                    .order_by(AuditEntry.seq)).all()
        assert [json.loads(d)["intact"] for d in checks] == [True, False]


def test_people_read_plain_chinese(app, client, users):
    login(client, "staff")
    long_query = "碧桂园" * 200
    resp = client.get("/search", query_string={"q": long_query})
    assert resp.status_code == 200 and "检索词过长：最多 200 个字" in resp.text
    too_long = client.get("/search?q=" + "x" * 20_000)
    assert too_long.status_code == 414 and "请求地址过长" in too_long.text and "URI Too Long" not in too_long.text
    refused = client.get("/admin/users")
    assert refused.status_code == 403 and "错误代码" not in refused.text and 'data-error-code="forbidden"' in refused.text
    assert file_type_label("application/pdf") == "PDF 文档" and file_type_label("image/jpeg") == "JPEG 图片"
    with app.app_context():
        from archive_app.accounts import users as accounts

        accounts.create_user(db.session, username="zhangsan", password="correct-horse-9", role="admin",
                             display_name="系统管理员")
        db.session.commit()
    client.post("/logout")
    login(client, "zhangsan")
    assert "zhangsan（系统管理员）" in client.get("/inbox").text


def test_an_undated_records_basis_names_its_year_not_a_date_it_does_not_have():
    undated = disposal_for(RecordFacts("往来函件", 2024), CustomerEvents(), Rule(10, "doc_date", 2), [], date(2026, 1, 1))
    assert undated.date == date(2035, 1, 1)
    assert "2024年度" in undated.basis and "2024-12-31" not in undated.basis
    dated = disposal_for(RecordFacts("往来函件", 2024, doc_date=date(2024, 3, 5)), CustomerEvents(),
                         Rule(10, "doc_date", 2), [], date(2026, 1, 1))
    assert "2024-03-05" in dated.basis
