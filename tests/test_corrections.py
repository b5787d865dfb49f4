"""客户数据变更: change requests decided by the head (and a second step for sensitive fields), applied
atomically with a history line per field; direct corrections with a reason; holds and erasure refuse;
quarterly verification lists and progress; erasure blanks the history's personal data. Both stacks."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from archive_app.accounts.models import User
from archive_app.audit.models import AuditEntry
from archive_app.corrections import requests as change_requests
from archive_app.corrections import verification
from archive_app.corrections.models import ChangeRequest, CustomerChange
from archive_app.errors import DomainError
from archive_app.extensions import db
from archive_app.intake import customers
from archive_app.intake.models import Customer
from archive_app.retention import disposal, holds

from .helpers import login

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
SENSITIVE = frozenset({"id_number", "name"})


def _customer(client, **fields) -> int:
    login(client, "archivist")
    body = {"name": "陈一鸣", "phones": "13912345678", "department": "销售一部", "project": "翠湖山庄"} | fields
    resp = client.post("/api/v1/customers", json=body)
    assert resp.status_code == 201, resp.json
    client.post("/logout")
    return resp.json["id"]


def _as(client, username: str) -> None:
    client.post("/logout")
    login(client, username)


def _code(resp) -> str:
    return resp.json["error"]["code"]


def test_an_approved_request_is_applied_and_shown_in_the_history(app, client, users):
    cid = _customer(client)
    _as(client, "staff")
    resp = client.post(f"/api/v1/customers/{cid}/change-requests",
                       json={"changes": {"phones": "13700001111", "unit": "5-1201"}, "reason": "客户换号，来电告知"})
    assert resp.status_code == 201, resp.json
    rid = resp.json["id"]
    assert resp.json["status"] == "pending_head" and not resp.json["sensitive"]
    # Masked in the request as on the customer page.
    assert resp.json["changes"]["phones"] == {"label": "电话", "before": "139****5678", "after": "137****1111"}
    _as(client, "head")
    assert "有 1 件客户数据变更申请待您审批" in client.get("/inbox").text
    assert [r["id"] for r in client.get("/api/v1/change-requests?scope=to_decide").json["items"]] == [rid]
    resp = client.post(f"/api/v1/change-requests/{rid}/approve", json={"note": "同意"})
    assert resp.status_code == 200 and resp.json["status"] == "approved", resp.json
    assert client.get(f"/api/v1/change-requests/{rid}").status_code == 200
    with app.app_context():
        c = db.session.get(Customer, cid)
        assert (c.phones, c.unit) == ("13700001111", "5-1201")
        # Every write audited; personal data only in the erasable part, never in the chained details.
        entries = {e.action: e for e in db.session.scalars(select(AuditEntry).where(AuditEntry.object_id == str(cid)))}
        assert {"correction.request", "correction.apply", "correction.view"} <= entries.keys()
        for action in ("correction.request", "correction.apply"):
            assert "13700001111" not in entries[action].details and "13700001111" in entries[action].personal
            assert "客户换号" not in entries[action].details
    history = client.get(f"/api/v1/customers/{cid}/history").json["items"]
    by_field = {h["field"]: h for h in history}
    assert by_field.keys() == {"phones", "unit"}
    # the head answers for the department's customers: whole values (the staff member below sees them masked)
    assert by_field["phones"]["before"] == "13912345678" and by_field["phones"]["after"] == "13700001111"
    assert by_field["unit"] | {"changed_at": None} == {
        "field": "unit", "label": "房号", "before": "", "after": "5-1201", "source": "request", "request_id": rid,
        "requested_by": "staff", "approved_by": "head", "second_by": "", "reason": "客户换号，来电告知",
        "changed_at": None}
    _as(client, "staff")
    assert f"客户数据变更申请 #{rid} 已批准并执行" in client.get("/inbox").text
    page = client.get(f"/customers/{cid}").text
    assert "变更记录" in page and "客户换号，来电告知" in page and "137****1111" in page
    assert "13700001111" not in page.split('id="change-history"')[1]
    masked = {h["field"]: h for h in client.get(f"/api/v1/customers/{cid}/history").json["items"]}["phones"]
    assert (masked["before"], masked["after"]) == ("139****5678", "137****1111")
    # The audited reveal shows the whole values in the history too.
    assert "13912345678" in client.post(f"/customers/{cid}/reveal").text.split('id="change-history"')[1]


def test_a_rejected_request_is_not_applied(app, client, users):
    cid = _customer(client)
    _as(client, "staff")
    rid = client.post(f"/api/v1/customers/{cid}/change-requests",
                      json={"changes": {"address": "北京路 1 号"}, "reason": "搬家"}).json["id"]
    _as(client, "staff_other")  # another department's staff do not even learn it exists
    assert client.get(f"/api/v1/change-requests/{rid}").status_code == 404
    _as(client, "head")
    assert _code(client.post(f"/api/v1/change-requests/{rid}/reject", json={"note": " "})) == "reason_required"
    resp = client.post(f"/api/v1/change-requests/{rid}/reject", json={"note": "地址未经核实"})
    assert resp.status_code == 200 and resp.json["status"] == "rejected"
    again = client.post(f"/api/v1/change-requests/{rid}/approve")
    assert again.status_code == 409 and _code(again) == "already_decided"
    with app.app_context():
        assert db.session.get(Customer, cid).address == ""
        assert db.session.scalar(select(CustomerChange).where(CustomerChange.customer_id == cid)) is None
    _as(client, "staff")
    assert "被驳回：地址未经核实" in client.get("/inbox").text


def test_a_sensitive_field_needs_the_second_step(app, client, users):
    cid = _customer(client)
    _as(client, "staff")
    rid = client.post(f"/api/v1/customers/{cid}/change-requests",
                      json={"changes": {"name": "陈一明"}, "reason": "身份证上为「明」"}).json["id"]
    _as(client, "head")
    resp = client.post(f"/api/v1/change-requests/{rid}/approve")
    assert resp.json["status"] == "pending_second" and resp.json["sensitive"]
    assert client.post(f"/api/v1/change-requests/{rid}/approve").status_code == 403  # not the head's step
    with app.app_context():
        assert db.session.get(Customer, cid).name == "陈一鸣"
    _as(client, "archivist")
    assert "有 1 件客户数据变更申请待您审批" in client.get("/inbox").text
    resp = client.post(f"/api/v1/change-requests/{rid}/approve")
    assert resp.json["status"] == "approved" and resp.json["second"] == "archivist"
    line = client.get(f"/api/v1/customers/{cid}/history").json["items"][0]
    assert (line["before"], line["after"], line["approved_by"], line["second_by"]) == ("陈一鸣", "陈一明", "head",
                                                                                       "archivist")


def test_a_request_for_a_customer_changed_since_is_refused(app, client, users):
    cid = _customer(client)
    _as(client, "staff")
    rid = client.post(f"/api/v1/customers/{cid}/change-requests",
                      json={"changes": {"phones": "13700001111"}, "reason": "换号"}).json["id"]
    _as(client, "archivist")
    assert client.patch(f"/api/v1/customers/{cid}", json={"phones": "13600002222", "reason": "客户到访更正"}
                        ).status_code == 200
    _as(client, "head")
    resp = client.post(f"/api/v1/change-requests/{rid}/approve")
    assert resp.status_code == 409 and _code(resp) == "customer_changed"
    assert resp.json["error"]["details"]["fields"] == ["phones"]
    with app.app_context():
        assert db.session.get(Customer, cid).phones == "13600002222"
        assert db.session.get(ChangeRequest, rid).status == "pending_head"


def test_a_direct_correction_needs_a_reason_and_enters_the_history(app, client, users):
    cid = _customer(client)
    _as(client, "archivist")
    resp = client.patch(f"/api/v1/customers/{cid}", json={"project": "碧水湾"})
    assert resp.status_code == 400 and _code(resp) == "reason_required"
    form = client.post(f"/customers/{cid}/edit", data={"name": "陈一鸣", "kind": "person", "project": "碧水湾"})
    assert form.status_code == 400
    assert client.patch(f"/api/v1/customers/{cid}", json={"project": "碧水湾", "reason": "合同所载楼盘"}
                        ).status_code == 200
    [line] = client.get(f"/api/v1/customers/{cid}/history").json["items"]
    assert (line["field"], line["before"], line["after"], line["source"], line["requested_by"], line["reason"]) == (
        "project", "翠湖山庄", "碧水湾", "correction", "archivist", "合同所载楼盘")


def test_a_customer_on_hold_or_erased_cannot_be_changed(app, client, users):
    cid = _customer(client)
    with app.app_context():
        s = db.session
        staff, head, archivist = (s.scalar(select(User).where(User.username == n)) for n in ("staff", "head", "archivist"))
        req = change_requests.file_request(s, staff, cid, {"changes": {"unit": "1-101"}, "reason": "补房号"},
                                           sensitive_fields=SENSITIVE, now=NOW)
        s.commit()
        rid = req.id
        holds.place_hold(s, archivist, kind="litigation", reason="合同纠纷", mandate="(2026)沪0101民初2号", now=NOW,
                         customer_id=cid)

        def code_of(fn) -> str:
            with pytest.raises(DomainError) as exc:
                fn()
            s.rollback()
            return exc.value.code

        assert code_of(lambda: change_requests.file_request(
            s, staff, cid, {"changes": {"unit": "1-102"}, "reason": "x"}, sensitive_fields=SENSITIVE,
            now=NOW)) == "customer_on_hold"
        assert code_of(lambda: change_requests.approve(s, head, rid, now=NOW)) == "customer_on_hold"
        assert s.get(Customer, cid).unit == ""
    _as(client, "archivist")
    eraseable = _customer(client, name="赵二")
    with app.app_context():
        s = db.session
        staff, head = (s.scalar(select(User).where(User.username == n)) for n in ("staff", "head"))
        rid = change_requests.file_request(s, staff, eraseable, {"changes": {"unit": "2-202"}, "reason": "补房号"},
                                           sensitive_fields=SENSITIVE, now=NOW).id
        s.commit()
        assert disposal.erase_customer_if_all_destroyed(s, eraseable, None, None, NOW)
        s.commit()
        assert code_of(lambda: change_requests.approve(s, head, rid, now=NOW)) == "customer_erased"
        assert code_of(lambda: change_requests.file_request(
            s, staff, eraseable, {"changes": {"unit": "1"}, "reason": "x"}, sensitive_fields=SENSITIVE,
            now=NOW)) == "customer_erased"


def test_quarterly_verification_lists_and_progress(app, users):
    with app.app_context():
        s = db.session
        staff, head, archivist, other = (s.scalar(select(User).where(User.username == n))
                                         for n in ("staff", "head", "archivist", "staff_other"))
        ids = [customers.create_customer(s, archivist, {"name": f"客户{i}", "department": "销售一部",
                                                        "consultant_id": staff.id}).id for i in range(3)]
        customers.create_customer(s, archivist, {"name": "别部客户", "department": "销售二部", "consultant_id": other.id})
        s.commit()
        quarter, groups = verification.to_verify(s, staff, now=NOW, tz="Asia/Shanghai")
        assert quarter == "2026Q4"
        assert [(g.consultant, [c.id for c in g.customers]) for g in groups] == [("staff", ids)]
        verification.mark_verified(s, staff, ids[0], note="电话回访确认", now=NOW, tz="Asia/Shanghai")
        s.commit()
        with pytest.raises(DomainError) as again:
            verification.mark_verified(s, staff, ids[0], now=NOW, tz="Asia/Shanghai")
        assert again.value.code == "already_verified"
        s.rollback()
        _, groups = verification.to_verify(s, staff, now=NOW, tz="Asia/Shanghai")
        assert [c.id for c in groups[0].customers] == ids[1:]
        _, rows = verification.progress(s, head, now=NOW, tz="Asia/Shanghai")
        assert [(p.consultant, p.verified, p.total) for p in rows] == [("staff", 1, 3)]
        _, rows = verification.progress(s, archivist, now=NOW, tz="Asia/Shanghai")
        assert sorted((p.consultant, p.verified, p.total) for p in rows) == [("staff", 1, 3), ("staff_other", 0, 1)]
        # A new quarter (2027-01-01 local time is still 2026-12-31 UTC): everyone is due again.
        _, groups = verification.to_verify(s, staff, now=datetime(2026, 12, 31, 17, 0, tzinfo=UTC), tz="Asia/Shanghai")
        assert [c.id for c in groups[0].customers] == ids


def test_erasure_blanks_personal_data_in_the_history(app, client, users):
    cid = _customer(client, id_number="11010519491231002X")
    _as(client, "archivist")
    assert client.patch(f"/api/v1/customers/{cid}", json={"phones": "13600002222", "project": "碧水湾",
                                                           "reason": "陈一鸣本人来电更正"}).status_code == 200
    _as(client, "staff")
    rid = client.post(f"/api/v1/customers/{cid}/change-requests",
                      json={"changes": {"address": "北京路 1 号"}, "reason": "陈一鸣搬家"}).json["id"]
    with app.app_context():
        s = db.session
        assert disposal.erase_customer_if_all_destroyed(s, cid, None, None, NOW)
        s.commit()
        lines = {c.field: c for c in s.scalars(select(CustomerChange).where(CustomerChange.customer_id == cid))}
        assert (lines["phones"].before, lines["phones"].after, lines["phones"].reason) == ("", "", "")
        # What is not personal stays: the project the file was about.
        assert (lines["project"].before, lines["project"].after) == ("翠湖山庄", "碧水湾")
        req = s.get(ChangeRequest, rid)
        assert json.loads(req.changes) == {"address": {"before": "", "after": ""}} and req.reason == ""
        stored = " ".join(f"{c.before} {c.after} {c.reason}" for c in lines.values()) + req.changes + req.reason
        for personal in ("13912345678", "13600002222", "陈一鸣", "北京路"):
            assert personal not in stored


def test_the_pages_file_decide_and_verify(app, client, users):
    cid = _customer(client)
    _as(client, "staff")
    assert "申请变更资料" in client.get(f"/customers/{cid}").text
    resp = client.post(f"/customers/{cid}/change-requests/new", data={"name": "", "unit": "8-808", "reason": ""})
    assert resp.status_code == 400 and "请填写变更原因" in resp.text
    resp = client.post(f"/customers/{cid}/change-requests/new", data={"name": "", "unit": "8-808", "reason": "补房号"})
    assert resp.status_code == 302
    page = client.get(resp.location).text
    assert "8-808" in page and "待部门负责人审批" in page and 'id="approve-change"' not in page
    assert "房号" in client.get("/change-requests/mine").text
    _as(client, "head")
    queue = client.get("/change-requests/queue").text
    assert "陈一鸣" in queue and "房号" in queue
    rid = int(resp.location.rsplit("/", 1)[1])
    assert 'id="approve-change"' in client.get(f"/change-requests/{rid}").text
    assert client.post(f"/change-requests/{rid}/approve", data={"note": ""}).status_code == 302
    assert "已批准并执行" in client.get(f"/change-requests/{rid}").text
    assert "季度核实" in client.get("/verification").text
    assert client.post(f"/customers/{cid}/verify", data={"note": "到访核对"}).status_code == 302
    assert "由 head 于" in client.get(f"/customers/{cid}").text
    progress = client.get("/verification/progress").text
    assert "（未指定置业顾问）" in progress and "100%" in progress
    with app.app_context():
        assert db.session.get(Customer, cid).unit == "8-808"
