"""Retention and destruction through the pages: schedule, holds, due list, review batch, approval,
supervision, execution, the 销毁清册 and the certificate — over HTTP, on both stacks."""
from __future__ import annotations

import io
import re
from datetime import date

from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import func, select

from archive_app.extensions import db
from archive_app.intake.models import Customer, FilePage, Record, RecordFile
from archive_app.jobs import run_pending
from archive_app.retention.models import DisposalBatch, DisposalItem, LegalHold, ScheduleVersion

from .helpers import login, make_pdf, upload


def _logout(client) -> None:
    client.post("/logout")


def _as(client, username: str) -> None:
    _logout(client)
    login(client, username)


def _flashes(html: str) -> list[str]:
    return re.findall(r'<div class="flash (?:\w+)" role="alert">([^<]*)</div>', html)


def _due_record(app, client, *, name: str = "赵六", marker: str = "card") -> dict:
    """An archivist opens a customer last contacted in 2015 (form fields), uploads a 温馨卡, the
    reviewer files it: 3 years from the end of 2015 it is long due. Ends logged out."""
    login(client, "archivist")
    resp = client.post("/customers/new", data={"kind": "person", "name": name, "phones": "13900000001",
                                                "business_type": "购房", "department": "销售一部",
                                                "last_contact_on": "2015-03-01"})
    assert resp.status_code == 302, resp.text
    customer_id = int(resp.location.rstrip("/").rsplit("/", 1)[1])
    rec = upload(client, customer_id, [(make_pdf(marker=marker), "card.pdf")], record_type="温馨卡",
                 title=f"温馨卡 {name}")
    assert rec.status_code == 201, rec.json
    rec = rec.json
    _as(client, "reviewer")
    assert client.post(f"/records/{rec['id']}/review").status_code == 302
    _logout(client)
    with app.app_context():
        run_pending()  # text, thumbnails and the index entry
        record = db.session.get(Record, rec["id"])
        assert record.status == "filed"
        assert record.disposal_date == date(2019, 1, 1), record.disposal_basis
        customer = db.session.get(Customer, customer_id)
        files = db.session.scalars(select(RecordFile).where(RecordFile.record_id == record.id)).all()
        pages = db.session.scalars(select(FilePage).where(FilePage.file_id.in_([f.id for f in files]))).all()
        return {"id": record.id, "code": record.archival_code, "customer_id": customer_id,
                "customer_no": customer.customer_no, "file_ids": [f.id for f in files],
                "keys": [f.object_key for f in files],
                "derived": [k for p in pages for k in (p.thumb_key, p.view_key) if k]}


def _create_batch(client) -> int:
    resp = client.post("/disposal/batches", data={"due_by": date.today().isoformat()})
    assert resp.status_code == 302, resp.text
    assert "/disposal/batches/" in resp.location, _flashes(client.get(resp.location).text)
    return int(resp.location.rsplit("/", 1)[1])


def _item_ids(client, batch_id: int) -> list[str]:
    page = client.get(f"/disposal/batches/{batch_id}")
    assert page.status_code == 200
    return re.findall(r'name="item_ids" value="(\d+)"', page.text)


def _approve_and_supervise(client, batch_id: int) -> None:
    """Archivist (logged in) decides 销毁 and submits; gm approves; auditor and head sign; back to archivist."""
    ids = _item_ids(client, batch_id)
    assert ids
    resp = client.post(f"/disposal/batches/{batch_id}/decide",
                       data={"item_ids": ids, "decision": "destroy", "reason": "到期且无保存价值"},
                       follow_redirects=True)
    assert "已对" in resp.text and "销毁" in resp.text
    resp = client.post(f"/disposal/batches/{batch_id}/submit", follow_redirects=True)
    assert "已提交总经理审批" in resp.text, _flashes(resp.text)
    _as(client, "gm")
    page = client.get(f"/disposal/batches/{batch_id}").text
    assert f"/disposal/batches/{batch_id}/approve" in page and f"/disposal/batches/{batch_id}/send-back" in page
    assert f"/disposal/batches/{batch_id}/execute" not in page
    resp = client.post(f"/disposal/batches/{batch_id}/approve", data={"note": "同意销毁"}, follow_redirects=True)
    assert "已批准" in resp.text, _flashes(resp.text)
    for supervisor in ("auditor", "head"):
        _as(client, supervisor)
        assert f"/disposal/batches/{batch_id}/sign" in client.get(f"/disposal/batches/{batch_id}").text
        resp = client.post(f"/disposal/batches/{batch_id}/sign", follow_redirects=True)
        assert "监销人" in resp.text and not [f for f in _flashes(resp.text) if "不能" in f]
    _as(client, "archivist")


def test_whole_path_from_due_list_to_certificate(app, client, users, store):
    rec = _due_record(app, client)

    login(client, "archivist")

    def hits() -> list[int]:
        body = client.get("/api/v1/search", query_string={"q": rec["customer_no"]}).json
        return [item["record"]["id"] for item in body["items"]]

    assert hits() == [rec["id"]]
    due = client.get("/retention/due")
    assert due.status_code == 200
    assert rec["code"] in due.text and "2019 年" in due.text and "发起鉴定" in due.text
    batch_id = _create_batch(client)
    with app.app_context():
        batch_no = db.session.get(DisposalBatch, batch_id).batch_no
    assert re.fullmatch(r"XH-\d{4}-\d{4}", batch_no)
    # Submitting with undecided records is refused with the service's message.
    resp = client.post(f"/disposal/batches/{batch_id}/submit", follow_redirects=True)
    assert "还有 1 件档案没有鉴定意见" in resp.text
    # A decision needs a reason.
    resp = client.post(f"/disposal/batches/{batch_id}/decide",
                       data={"item_ids": _item_ids(client, batch_id), "decision": "destroy", "reason": ""},
                       follow_redirects=True)
    assert "请填写鉴定理由" in resp.text
    # The archivist cannot approve.
    assert client.post(f"/disposal/batches/{batch_id}/approve").status_code == 403

    _approve_and_supervise(client, batch_id)
    page = client.get(f"/disposal/batches/{batch_id}").text
    assert f"/disposal/batches/{batch_id}/execute" in page
    resp = client.post(f"/disposal/batches/{batch_id}/execute", follow_redirects=True)
    assert "销毁完成：本次销毁 1 件" in resp.text, _flashes(resp.text)
    assert "已销毁" in resp.text and "下载销毁证明" in resp.text

    # The record page shows a tombstone; its file is gone from every path.
    page = client.get(f"/records/{rec['id']}")
    assert page.status_code == 200
    assert 'id="tombstone"' in page.text and "已销毁" in page.text and batch_no in page.text
    assert client.get(f"/records/{rec['id']}/files/{rec['file_ids'][0]}").status_code in (404, 410)
    assert client.get(f"/api/v1/records/{rec['id']}/files/{rec['file_ids'][0]}/content").status_code in (404, 410)
    assert rec["derived"], "the extraction job made page images"
    for key in rec["keys"] + rec["derived"]:
        assert not store.exists(key)
    with app.app_context():
        run_pending()  # whatever the destruction's commits queued must not bring the record back
    assert hits() == []
    with app.app_context():
        record = db.session.get(Record, rec["id"])
        assert record.status == "destroyed" and record.destroyed_at is not None
        batch = db.session.get(DisposalBatch, batch_id)
        assert batch.status == "executed" and batch.certificate_key == f"certificates/{batch_no}.pdf"
        assert batch.certificate_sha256 and store.exists(batch.certificate_key)
        if store.lock_supported():
            assert store.retention(batch.certificate_key).until.year >= date.today().year + 99

    # 销毁清册 of the batch, as XLSX.
    resp = client.get(f"/disposal/batches/{batch_id}/register.xlsx")
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    ws = load_workbook(io.BytesIO(resp.data)).active
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    header = rows[1]
    assert header[:6] == ["序号", "档号", "题名", "档案类型", "客户号", "起止日期"]
    assert header[-1] == "SHA-256" and "监销人" in header and "批准人" in header
    line = dict(zip(header, rows[2]))
    assert line["档号"] == rec["code"] and line["档案类型"] == "温馨卡" and line["客户号"] == rec["customer_no"]
    assert line["批准人"] == "gm" and line["监销人"] == "auditor、head" and line["执行人"] == "archivist"
    assert "到期且无保存价值" in line["鉴定意见"] and len(line["SHA-256"]) == 64

    # The whole register page and its export.
    page = client.get(f"/disposal/register?batch={batch_id}")
    assert page.status_code == 200 and rec["code"] in page.text
    ws = load_workbook(io.BytesIO(client.get("/disposal/register.xlsx").data)).active
    assert rec["code"] in [c.value for row in ws.iter_rows() for c in row]

    # The certificate PDF names the batch and the record.
    resp = client.get(f"/disposal/batches/{batch_id}/certificate.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(resp.data)).pages)
    assert "档案销毁证明书" in text and batch_no in text and rec["code"] in text
    assert "auditor" in text and "head" in text and "gm" in text

    # Running it again destroys nothing twice.
    resp = client.post(f"/disposal/batches/{batch_id}/execute", follow_redirects=True)
    assert "本次销毁 0 件" in resp.text or "不能执行" in resp.text


def test_paper_originals_destroyed_as_a_step_after_the_electronic_one(app, client, users, store):
    from archive_app.accounts.models import User
    from archive_app.audit.models import AuditEntry
    from archive_app.borrowing import loans as L
    from archive_app.retention.models import DestructionEntry
    from archive_app.wiring import loan_settings
    from archive_app.wiring import now as utc_now

    rec = _due_record(app, client, name="孙八", marker="paper")
    with app.app_context():
        s = db.session
        record = s.get(Record, rec["id"])
        record.location_room, record.location_cabinet, record.location_shelf, record.location_box = \
            "档案室", "B柜", "2架", "7盒"
        s.commit()
        # The paper original is out on loan when the batch is executed.
        staff, head, archivist = (s.scalar(select(User).where(User.username == n)) for n in ("staff", "head", "archivist"))
        req = L.create_request(s, staff, kind="original", purpose="核对", settings=loan_settings(), now=utc_now(),
                               record_ids=[rec["id"]])
        L.approve(s, head, req.id, settings=loan_settings(), now=utc_now())
        if req.status == "pending_gm":
            L.approve(s, s.scalar(select(User).where(User.username == "gm")), req.id, settings=loan_settings(),
                      now=utc_now())
        L.hand_out(s, archivist, req.id, rec["id"], pages=1, now=utc_now())
    login(client, "archivist")
    batch_id = _create_batch(client)
    _approve_and_supervise(client, batch_id)
    resp = client.post(f"/disposal/batches/{batch_id}/execute", follow_redirects=True)
    assert "销毁完成：本次销毁 1 件" in resp.text, _flashes(resp.text)
    # Electronic content gone; the paper original waits, shown on the batch and on the tombstone.
    assert 'id="paper-step"' in resp.text and "档案室 B柜 2架 7盒" in resp.text
    page = client.get(f"/records/{rec['id']}").text
    assert 'id="destroyed-list"' in page and "待销毁" in page and "档案室 B柜 2架 7盒" in page
    assert 'id="files"' not in page  # no empty file table on a tombstone
    with app.app_context():
        ids = [db.session.scalar(select(User.id).where(User.username == n)) for n in ("auditor", "head")]
    form = {"method": "粉碎", "supervisor_ids": [str(ids[0])]}
    resp = client.post(f"/disposal/batches/{batch_id}/paper", data=form, follow_redirects=True)
    assert "原件销毁须有两名不同的监销人" in _flashes(resp.text)
    form["supervisor_ids"] = [str(i) for i in ids]
    resp = client.post(f"/disposal/batches/{batch_id}/paper", data=form, follow_redirects=True)
    assert any("借出未还" in f and rec["code"] in f for f in _flashes(resp.text)), _flashes(resp.text)
    with app.app_context():
        L.return_paper(db.session, db.session.scalar(select(User).where(User.username == "archivist")), rec["id"],
                       pages_back=1, now=utc_now())
        db.session.commit()
    resp = client.post(f"/disposal/batches/{batch_id}/paper", data=form | {"note": "3号碎纸机"}, follow_redirects=True)
    assert "1 件原件已粉碎，存放位置已清除" in " ".join(_flashes(resp.text)), _flashes(resp.text)
    assert 'id="paper-destroyed"' in resp.text and "auditor、head" in resp.text and 'id="paper-step"' not in resp.text
    # Twice is refused.
    again = client.post(f"/disposal/batches/{batch_id}/paper", data=form, follow_redirects=True)
    assert "原件销毁已登记" in " ".join(_flashes(again.text))
    page = client.get(f"/records/{rec['id']}").text
    assert "原存放于 档案室 B柜 2架 7盒" in page and "粉碎" in page and "待销毁" not in page
    with app.app_context():
        record = db.session.get(Record, rec["id"])
        assert record.shelf_location == ""
        entry = db.session.scalar(select(DestructionEntry).where(DestructionEntry.record_id == rec["id"]))
        assert entry.paper_location == "档案室 B柜 2架 7盒" and entry.paper_destroyed_at is not None
        batch = db.session.get(DisposalBatch, batch_id)
        assert (batch.paper_method, batch.paper_count, batch.paper_note) == ("粉碎", 1, "3号碎纸机")
        assert sorted([batch.paper_supervisor1_id, batch.paper_supervisor2_id]) == sorted(ids)
        assert db.session.scalar(select(func.count()).where(AuditEntry.action == "disposal.paper_destroy")) == 1
    # The 销毁清册 says where the original was and when it went.
    ws = load_workbook(io.BytesIO(client.get(f"/disposal/batches/{batch_id}/register.xlsx").data)).active
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    line = dict(zip(rows[1], rows[2]))
    assert line["原件存放位置"] == "档案室 B柜 2架 7盒" and line["原件销毁时间"]


def test_held_customer_never_enters_a_batch(app, client, users, store):
    rec = _due_record(app, client, name="钱七", marker="held")
    login(client, "archivist")
    resp = client.post("/retention/holds", data={"target": "customer", "code": rec["customer_no"], "kind": "litigation",
                                                 "reason": "购房合同纠纷诉讼", "mandate": "(2026)沪0101民初123号"},
                       follow_redirects=True)
    assert f"已冻结 客户 {rec['customer_no']}" in resp.text, _flashes(resp.text)
    assert "(2026)沪0101民初123号" in resp.text
    with app.app_context():
        assert db.session.get(Record, rec["id"]).on_hold
    if store.lock_supported():
        assert all(store.retention(k).legal_hold for k in rec["keys"])
    # The customer and record pages show the hold.
    page = client.get(f"/customers/{rec['customer_id']}").text
    assert 'id="hold-badge"' in page and "购房合同纠纷诉讼" in page
    assert 'id="hold-badge"' in client.get(f"/records/{rec['id']}").text
    # Not due, and no batch can take it.
    assert rec["code"] not in client.get("/retention/due").text
    resp = client.post("/disposal/batches", data={"due_by": date.today().isoformat()}, follow_redirects=True)
    assert "没有到期待鉴定的档案" in resp.text
    with app.app_context():
        assert db.session.scalar(select(DisposalItem).where(DisposalItem.record_id == rec["id"])) is None
        hold_id = db.session.scalar(select(LegalHold.id))

    # Lifting needs a reason; once lifted the record is due again.
    resp = client.post(f"/retention/holds/{hold_id}/lift", data={"reason": ""}, follow_redirects=True)
    assert "请填写解除冻结的理由" in resp.text
    resp = client.post(f"/retention/holds/{hold_id}/lift", data={"reason": "已撤诉"}, follow_redirects=True)
    assert "已解除冻结" in resp.text and "已撤诉" in resp.text
    if store.lock_supported():
        assert not any(store.retention(k).legal_hold for k in rec["keys"])
    assert rec["code"] in client.get("/retention/due").text

    # A hold placed on the record after approval stops the execution for that record.
    batch_id = _create_batch(client)
    _approve_and_supervise(client, batch_id)
    resp = client.post("/retention/holds", data={"target": "record", "code": rec["code"], "kind": "dispute",
                                                 "reason": "客户投诉未结", "mandate": "客服部函 2026-15"},
                       follow_redirects=True)
    assert f"已冻结 档案 {rec['code']}" in resp.text, _flashes(resp.text)
    resp = client.post(f"/disposal/batches/{batch_id}/execute", follow_redirects=True)
    assert "跳过 1 件" in resp.text, _flashes(resp.text)
    assert "档案处于冻结（诉讼保全）状态" in resp.text
    with app.app_context():
        assert db.session.get(Record, rec["id"]).status == "filed"
    assert all(store.exists(k) for k in rec["keys"])
    assert client.get(f"/records/{rec['id']}/files/{rec['file_ids'][0]}").status_code == 200


def test_schedule_edit_creates_a_version_and_moves_dates(app, client, users):
    rec = _due_record(app, client, name="孙八", marker="sched")
    login(client, "admin")
    page = client.get("/retention/schedule")
    assert page.status_code == 200 and "现行第 1 版" in page.text and "温馨卡" in page.text
    assert "修改保管期限表" in page.text
    form = client.get("/retention/schedule/edit")
    assert form.status_code == 200 and 'name="years__温馨卡"' in form.text
    # A reason is required.
    resp = client.post("/retention/schedule/edit", data={"years__温馨卡": "20", "trigger__温馨卡": "last_contact",
                                                         "note": ""})
    assert resp.status_code == 400 and "请说明修改理由" in resp.text
    resp = client.post("/retention/schedule/edit", data={"years__温馨卡": "20", "trigger__温馨卡": "last_contact",
                                                         "note": "潜在客户资料延长保管"}, follow_redirects=True)
    assert "已发布保管期限表第 2 版" in resp.text, _flashes(resp.text)
    assert "现行第 2 版" in resp.text and "潜在客户资料延长保管" in resp.text
    with app.app_context():
        assert db.session.scalar(select(ScheduleVersion.version).order_by(ScheduleVersion.version.desc())) == 2
        record = db.session.get(Record, rec["id"])
        assert record.disposal_date == date(2036, 1, 1) and "第2版" in record.disposal_basis
    page = client.get(f"/records/{rec['id']}").text
    assert "2036-01-01" in page
    # No longer due.
    _as(client, "archivist")
    assert rec["code"] not in client.get("/retention/due").text
    # Only the admin edits the schedule.
    assert client.get("/retention/schedule").status_code == 200
    assert client.get("/retention/schedule/edit").status_code == 403


def test_customer_event_dates_on_form_and_page(app, client, users):
    login(client, "archivist")
    resp = client.post("/customers/new", data={"kind": "person", "name": "周九", "phones": "13900000009",
                                                "business_type": "购房", "deal_closed_on": "2020-05-01",
                                                "contract_ended_on": "", "last_contact_on": "2021-06-30"})
    assert resp.status_code == 302
    cid = int(resp.location.rsplit("/", 1)[1])
    page = client.get(f"/customers/{cid}").text
    assert "成交日期" in page and "2020-05-01" in page and "2021-06-30" in page
    form = client.get(f"/customers/{cid}/edit").text
    assert 'name="deal_closed_on" value="2020-05-01"' in form and 'name="contract_ended_on" value=""' in form
    resp = client.post(f"/customers/{cid}/edit", data={"name": "周九", "kind": "person", "phones": "13900000009",
                                                       "business_type": "购房", "deal_closed_on": "2020-05-01",
                                                       "contract_ended_on": "2030-12-31",
                                                       "last_contact_on": "2021-06-30", "reason": "合同终止日期补录"})
    assert resp.status_code == 302
    assert "2030-12-31" in client.get(f"/customers/{cid}").text


def test_staff_cannot_open_the_retention_pages(app, client, users):
    login(client, "archivist")
    client.post("/disposal/batches", data={"due_by": date.today().isoformat()})  # nothing due: no batch
    _as(client, "staff")
    home = client.get("/").text
    assert "鉴定与销毁" not in home and "保管期限" not in home
    for url in ("/retention/schedule", "/retention/schedule/edit", "/retention/holds", "/retention/due",
                "/disposal/batches", "/disposal/batches/1", "/disposal/register", "/disposal/register.xlsx",
                "/disposal/batches/1/register.xlsx", "/disposal/batches/1/certificate.pdf"):
        assert client.get(url).status_code in (403, 404), url
    for url in ("/retention/holds", "/retention/holds/1/lift", "/disposal/batches", "/disposal/batches/1/decide",
                "/disposal/batches/1/approve", "/disposal/batches/1/sign", "/disposal/batches/1/execute"):
        assert client.post(url, data={"reason": "x"}).status_code in (403, 404), url
    # The reviewer (审核人) has no part in disposal either; the general manager sees batches but cannot execute.
    _as(client, "reviewer")
    assert client.get("/disposal/batches").status_code == 403
    _as(client, "gm")
    assert client.get("/disposal/batches").status_code == 200
    assert client.post("/disposal/batches/1/execute").status_code == 403
