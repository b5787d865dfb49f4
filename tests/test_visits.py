"""Visits (来访): visitor cards (温馨卡) as data, grade history, follow-ups (回访), on both stacks."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime

from sqlalchemy import func, select

from archive_app.audit.models import AuditEntry
from archive_app.extensions import db
from archive_app.intake.models import Customer, Record
from archive_app.jobs import run_pending
from archive_app.retention import holds
from archive_app.visits.choices import CARD_CHOICES
from archive_app.visits.models import FollowUp, GradeChange, VisitorCard

from .generated.pdfs import text_pdf
from .helpers import login, new_customer, upload
from .test_retention import _approved_batch, _execute, _users

# 2026-11-30 10:00 in Asia/Shanghai
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def _at(app, moment: datetime = NOW) -> None:
    app.config["CLOCK"] = lambda: moment


def _as(client, username: str) -> None:
    client.post("/logout")
    login(client, username)


def _card(client, customer_id: int, **fields):
    body = {"visit_dates": ["2026-11-20"]} | fields
    return client.post(f"/api/v1/customers/{customer_id}/cards", json=body)


def _count(app, model, **where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).filter_by(**where))


def test_a_card_saved_with_every_field_is_read_back(app, client, users):
    _at(app)
    _as(client, "archivist")
    c = new_customer(client, name="周到访")
    scan = upload(client, c["id"], [(text_pdf("温馨卡 周到访"), "card.pdf")], record_type="温馨卡").json
    # the last choice of every field, so no default could pass for it
    every = {field: list(codes)[-1] for field, (_, codes) in CARD_CHOICES.items()}
    resp = _card(client, c["id"], **every, visit_dates=["2026-11-20", "2026-11-23", "2026-11-27", "2026-11-29"],
                 consultant_id=users["staff"], grade="B", scouting=True, notes="戴眼镜，关注学区", record_id=scan["id"])
    assert resp.status_code == 201, resp.json
    card_id = resp.json["id"]

    got = client.get(f"/api/v1/cards/{card_id}").json
    assert {f: got[f] for f in CARD_CHOICES} == every
    assert got["labels"] == {"unit_type": "个体", "age_band": "55以上", "housing": "集资建房", "purpose": "投资",
                             "channel": "世纪推荐", "area_band": "160以上", "price_band": "4000以上",
                             "income_band": "20万以上"}
    assert got["visit_dates"] == ["2026-11-20", "2026-11-23", "2026-11-27", "2026-11-29"]
    assert (got["consultant_id"], got["consultant"]) == (users["staff"], "staff")
    assert (got["grade"], got["scouting"], got["notes"], got["record_id"]) == ("B", True, "戴眼镜，关注学区", scan["id"])
    assert [x["id"] for x in client.get(f"/api/v1/customers/{c['id']}/cards").json["items"]] == [card_id]
    # the card's grade is now the customer's, with its history line dated the last visit
    assert client.get(f"/api/v1/customers/{c['id']}").json["grade"] == "B"
    history = client.get(f"/api/v1/customers/{c['id']}/grades").json["items"]
    assert [(h["from_grade"], h["to_grade"], h["changed_on"], h["card_id"]) for h in history] == [
        (None, "B", "2026-11-29", card_id)]
    # the card's page shows the paper's words, and the customer page lists it
    page = client.get(f"/cards/{card_id}").get_data(as_text=True)
    for text in ("个体", "集资建房", "投资", "世纪推荐", "第4次 2026-11-29", "踩盘", "戴眼镜"):
        assert text in page, text
    assert f"/cards/{card_id}" in client.get(f"/customers/{c['id']}").get_data(as_text=True)
    # a code the paper does not print is refused, naming the field
    bad = _card(client, c["id"], housing="villa")
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_choice"
    assert "住房性质" in bad.json["error"]["message"]


def test_the_form_beside_the_scan_saves_a_card(app, client, users):
    _at(app)
    _as(client, "archivist")
    c = new_customer(client, name="吴表单")
    scan = upload(client, c["id"], [(text_pdf("温馨卡 吴表单"), "card.pdf")], record_type="温馨卡").json
    with app.app_context():
        run_pending()  # the page images the form shows beside it
    form = client.get(f"/customers/{c['id']}/cards/new?record_id={scan['id']}").get_data(as_text=True)
    assert f"/records/{scan['id']}/files/{scan['files'][0]['id']}/pages/1/image" in form
    assert "<script>" not in form and "style=" not in form  # CSP: static files only
    resp = client.post(f"/customers/{c['id']}/cards/new", data={
        "record_id": scan["id"], "unit_type": "enterprise", "age_band": "25_35", "housing": "rented",
        "purpose": "own", "channel": "referral", "area_band": "80_100", "price_band": "3000_3500",
        "income_band": "30k_50k", "visit_dates": ["2026-11-21", "2026-11-25", ""], "consultant_id": users["staff"],
        "grade": "A", "scouting": "1", "notes": "首次置业"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    with app.app_context():
        card = db.session.scalar(select(VisitorCard).where(VisitorCard.customer_id == c["id"]))
        assert (card.unit_type, card.channel, card.record_id, card.grade, card.scouting) == (
            "enterprise", "referral", scan["id"], "A", True)
        assert [v.visited_on for v in card.visits] == [date(2026, 11, 21), date(2026, 11, 25)]


def test_several_cards_over_time_and_one_first_follow_up(app, client, users):
    _at(app)
    _as(client, "archivist")
    c = new_customer(client, name="郑回头")
    first = _card(client, c["id"], visit_dates=["2025-03-01"], grade="C", consultant_id=users["staff"])
    again = _card(client, c["id"], visit_dates=["2026-11-18", "2026-11-26"], grade="A", channel="event")
    assert first.status_code == 201 and again.status_code == 201, (first.json, again.json)
    items = client.get(f"/api/v1/customers/{c['id']}/cards").json["items"]
    assert [(i["visit_dates"][0], i["grade"]) for i in items] == [("2025-03-01", "C"), ("2026-11-18", "A")]
    assert [(h["from_grade"], h["to_grade"]) for h in client.get(f"/api/v1/customers/{c['id']}/grades").json["items"]] \
        == [("C", "A"), (None, "C")]  # newest first; an upgrade needs no reason
    # the card's later visits are added as they happen, never before the last one
    card_id = again.json["id"]
    late = client.post(f"/api/v1/cards/{card_id}/visits", json={"visited_on": "2026-11-25"})
    assert late.status_code == 409 and late.json["error"]["code"] == "visit_before_last"
    assert client.post(f"/cards/{card_id}/visits", data={"visited_on": "2026-11-29"}).status_code == 302
    assert client.get(f"/api/v1/cards/{card_id}").json["visit_dates"] == ["2026-11-18", "2026-11-26", "2026-11-29"]
    # only the customer's first visit sets the first follow-up
    follow = client.get(f"/api/v1/customers/{c['id']}/follow-ups").json["items"]
    assert [(f["due_on"], f["assignee_id"]) for f in follow] == [("2025-03-04", users["staff"])]


def test_a_downgrade_needs_a_reason(app, client, users):
    _at(app)
    _as(client, "archivist")
    c = new_customer(client, name="冯降级")
    _as(client, "staff")
    assert client.post(f"/api/v1/customers/{c['id']}/grades", json={"grade": "A"}).status_code == 200
    refused = client.post(f"/api/v1/customers/{c['id']}/grades", json={"grade": "B", "reason": "  "})
    assert refused.status_code == 400
    assert refused.json["error"]["code"] == "downgrade_reason_required"
    assert "降级原因" in refused.json["error"]["message"]
    # nor through a card, nor through the customer edit
    card = _card(client, c["id"], grade="C")
    assert card.status_code == 400 and card.json["error"]["code"] == "downgrade_reason_required"
    assert _count(app, VisitorCard, customer_id=c["id"]) == 0
    _as(client, "archivist")
    edit = client.patch(f"/api/v1/customers/{c['id']}", json={"grade": "D", "reason": "客户要求"})
    assert edit.status_code == 400 and edit.json["error"]["code"] == "grade_via_history"
    assert client.get(f"/api/v1/customers/{c['id']}").json["grade"] == "A"
    _as(client, "staff")
    done = client.post(f"/api/v1/customers/{c['id']}/grades", json={"grade": "B", "reason": "预算不足，改看二手房"})
    assert done.status_code == 200 and done.json["grade"] == "B", done.json
    history = client.get(f"/api/v1/customers/{c['id']}/grades").json["items"]
    assert [(h["from_grade"], h["to_grade"], h["downgrade"], h["reason"], h["changed_by"], h["changed_on"])
            for h in history] == [("A", "B", True, "预算不足，改看二手房", "staff", "2026-11-30"),
                                  (None, "A", False, "", "staff", "2026-11-30")]
    with app.app_context():
        assert db.session.get(Customer, c["id"]).grade == "B"
    page = client.get(f"/customers/{c['id']}").get_data(as_text=True)
    assert "预算不足，改看二手房" in page and "降级" in page
    # the page form says the same thing in Chinese
    form = client.post(f"/customers/{c['id']}/grade", data={"grade": "D"}, follow_redirects=True)
    assert "须填写降级原因" in form.get_data(as_text=True)
    assert _count(app, GradeChange, customer_id=c["id"]) == 2


def test_the_first_follow_up_is_due_days_after_the_first_visit(app, client, users):
    _at(app)
    app.config["FIRST_FOLLOWUP_DAYS"] = 5
    _as(client, "archivist")
    c = new_customer(client, name="陈首访", grade="c")
    # a grade given when the file is opened is the first line of its history
    assert [(h["from_grade"], h["to_grade"], h["reason"]) for h in
            client.get(f"/api/v1/customers/{c['id']}/grades").json["items"]] == [(None, "C", "建档时评定")]
    _as(client, "staff")
    assert _card(client, c["id"], visit_dates=["2026-11-20", "2026-11-29"], consultant_id=users["staff"]).status_code \
        == 201
    follow = client.get(f"/api/v1/customers/{c['id']}/follow-ups").json["items"]
    assert [(f["due_on"], f["done_on"], f["overdue"]) for f in follow] == [("2026-11-25", None, True)]


def test_an_overdue_follow_up_waits_in_the_consultants_inbox_until_recorded(app, client, users):
    _at(app)
    _as(client, "archivist")
    c = new_customer(client, name="韩逾期")
    assert _card(client, c["id"], visit_dates=["2026-11-20"], consultant_id=users["staff"]).status_code == 201
    _as(client, "staff")
    inbox = client.get("/inbox").get_data(as_text=True)
    assert "有 1 项客户回访已逾期（最早应于 2026-11-23 回访）" in inbox
    due = client.get("/follow-ups").get_data(as_text=True)
    assert "韩逾期" in due and "已逾期 7 天" in due
    assert [f["customer_id"] for f in client.get("/api/v1/follow-ups/due").json["items"]] == [c["id"]]
    # the head sees the department's; a consultant of another department nothing
    _as(client, "head")
    assert "韩逾期" in client.get("/follow-ups").get_data(as_text=True)
    _as(client, "staff_other")
    assert "回访" not in client.get("/inbox").get_data(as_text=True)
    _as(client, "staff")
    resp = client.post(f"/customers/{c['id']}/follow-ups", data={
        "done_on": "2026-11-30", "way": "phone", "result": "周末带家人再来看样板间", "next_due_on": "2026-12-05"})
    assert resp.status_code == 302
    assert "回访已逾期" not in client.get("/inbox").get_data(as_text=True)
    follow = client.get(f"/api/v1/customers/{c['id']}/follow-ups").json["items"]
    assert [(f["due_on"], f["done_on"], f["way_label"], f["result"]) for f in follow] == [
        ("2026-12-05", None, "", ""), ("2026-11-23", "2026-11-30", "电话", "周末带家人再来看样板间")]
    # due today: an ordinary notice that day
    _at(app, datetime(2026, 12, 5, 1, 0, tzinfo=UTC))
    _as(client, "staff")  # the session ended while the days went by
    assert "今天有 1 项客户回访待做" in client.get("/inbox").get_data(as_text=True)
    bad = client.post(f"/api/v1/customers/{c['id']}/follow-ups",
                      json={"way": "fax", "result": "x"})
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_way"


def test_a_held_or_erased_customer_takes_no_card_grade_or_follow_up(app, client, users):
    _at(app)
    _as(client, "archivist")
    c = new_customer(client, name="林冻结", last_contact_on="2019-03-01")
    rid = upload(client, c["id"], [(text_pdf("温馨卡 林冻结"), "card.pdf")], record_type="温馨卡").json["id"]
    card_id = _card(client, c["id"], grade="B", notes="相貌：高个").json["id"]
    with app.app_context():
        u = _users(users)
        hold = holds.place_hold(db.session, u["archivist"], kind="litigation", reason="购房纠纷", mandate="(2026)1号",
                                now=NOW, customer_id=c["id"]).hold
        db.session.commit()
        hold_id = hold.id

    def refused(code: str) -> None:
        _as(client, "archivist")
        assert _card(client, c["id"]).json["error"]["code"] == code
        assert client.post(f"/api/v1/customers/{c['id']}/grades", json={"grade": "A"}).json["error"]["code"] == code
        assert client.post(f"/api/v1/cards/{card_id}/visits", json={"visited_on": "2026-11-29"}).json["error"][
            "code"] == code
        _as(client, "staff")
        resp = client.post(f"/api/v1/customers/{c['id']}/follow-ups", json={"way": "phone", "result": "无人接听"})
        assert (resp.status_code, resp.json["error"]["code"]) == (409, code)
        assert 'id="follow-up-form"' not in client.get(f"/customers/{c['id']}").get_data(as_text=True)

    refused("customer_on_hold")
    assert (_count(app, VisitorCard, customer_id=c["id"]), _count(app, GradeChange, customer_id=c["id"]),
            _count(app, FollowUp, done_by_id=users["staff"])) == (1, 1, 0)
    with app.app_context():
        u = _users(users)
        holds.lift_hold(db.session, u["archivist"], hold_id, reason="已结案", now=NOW)
        db.session.commit()
        from archive_app.intake import records as records_svc

        records_svc.review_record(db.session, u["reviewer"], rid, now=NOW)
        db.session.commit()
        _execute(app, u, _approved_batch(u, [rid], due_by=date(2026, 11, 30)))
        assert db.session.get(Customer, c["id"]).erased
        # the card's notes went with the rest of the customer's personal data
        assert db.session.scalar(select(VisitorCard.notes).where(VisitorCard.customer_id == c["id"])) == ""
    refused("customer_erased")


def test_a_follow_up_moves_the_last_contact_on_and_the_dates_counted_from_it(app, client, users):
    _at(app)
    _as(client, "archivist")
    c = new_customer(client, name="韩联系", last_contact_on="2025-12-20")
    rid = upload(client, c["id"], [(text_pdf(marker="card"), "card.pdf")], record_type="温馨卡").json["id"]
    with app.app_context():
        # 3 years from the last contact, counted from the start of the next year
        assert db.session.get(Record, rid).disposal_date == date(2029, 1, 1)
    _as(client, "staff")
    # a follow-up entered late, of a day before the last contact, leaves it alone
    assert client.post(f"/api/v1/customers/{c['id']}/follow-ups",
                       json={"done_on": "2025-12-01", "way": "phone", "result": "未接"}).status_code == 201
    with app.app_context():
        assert db.session.get(Customer, c["id"]).last_contact_on == date(2025, 12, 20)
    assert client.post(f"/customers/{c['id']}/follow-ups", data={
        "done_on": "2026-11-29", "way": "wechat", "result": "约周末看房"}).status_code == 302
    with app.app_context():
        assert db.session.get(Customer, c["id"]).last_contact_on == date(2026, 11, 29)
        # the 温馨卡's three years are counted from the last contact: the review date moves with it
        assert db.session.get(Record, rid).disposal_date == date(2030, 1, 1)
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "followup.record")
                                   .order_by(AuditEntry.id.desc())).first()
        assert json.loads(entry.details)["last_contact_on"] == {"before": "2025-12-20", "after": "2026-11-29"}
    assert "2026-11-29" in client.get(f"/customers/{c['id']}").get_data(as_text=True)
