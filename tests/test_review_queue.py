"""The review queue (待审核) at scale, on both stacks: 400 drafts counted and paged, approved in bulk in one
request with the reviewer's own uploads refused per record; a draft sent back reaches its uploader's inbox;
a filed record's correction needs a reason and is audited with before/after."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from sqlalchemy import func, insert, select

from archive_app.audit.models import AuditEntry
from archive_app.extensions import db
from archive_app.intake.models import Record, RecordFile

from .factories import make_customer, make_record, user
from .helpers import login

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def _bulk_drafts(app, n: int, uploaders: list[str]) -> list[int]:
    """``n`` drafts with one file each, inserted in two statements (uploads would take minutes);
    uploaded in turn by ``uploaders``."""
    with app.app_context():
        customer = make_customer(name="批量客户")
        ids = [user(u).id for u in uploaders]
        base = customer.customer_no
        rows = [{"customer_id": customer.id, "part": 3, "item_no": i + 1,
                 "archival_code": f"QZ-2026-D30-{base}-3-{i + 1:04d}", "record_type": "购房合同",
                 "title": f"购房合同 第{i + 1}件", "year": 2026, "retention_code": "D30", "secrecy": 1,
                 "status": "draft", "created_by_id": ids[i % len(ids)], "created_at": NOW, "updated_at": NOW}
                for i in range(n)]
        db.session.execute(insert(Record), rows)
        record_ids = list(db.session.scalars(select(Record.id).where(Record.customer_id == customer.id)
                                             .order_by(Record.item_no)))
        db.session.execute(insert(RecordFile), [
            {"record_id": rid, "object_key": f"bulk/{rid}", "sha256": f"{rid:064x}", "size": 100,
             "mime_type": "application/pdf", "original_name": f"{rid}.pdf", "page_count": 2,
             "uploaded_by_id": ids[0], "created_at": NOW} for rid in record_ids])
        db.session.commit()
        return record_ids


def test_four_hundred_drafts_are_counted_paged_and_approved_in_bulk(app, client, users):
    app.config["CLOCK"] = lambda: NOW
    # The admin reviews too: a quarter of the drafts are their own uploads.
    record_ids = _bulk_drafts(app, 400, ["archivist", "archivist2", "admin", "archivist"])
    own = {rid for i, rid in enumerate(record_ids) if i % 4 == 2}
    login(client, "admin")

    first = client.get("/review?per_page=200").text
    # The true count: the admin's own 100 are not theirs to review, the other 300 all wait.
    assert re.search(r'id="queue-total">共 300 件', first)
    assert "第 1 / 2 页" in first and first.count('name="record_ids"') == 200
    newest = client.get("/review?per_page=50&sort=code&page=6").text
    assert "第 6 / 6 页" in newest and newest.count('name="record_ids"') == 50

    # One request names all 400 (what a hand-made form could send): the others' 300 are filed, the
    # admin's own 100 refused one by one with the reason.
    resp = client.post("/review/approve", data={"record_ids": [str(i) for i in record_ids], "comment": "已核对"})
    assert resp.status_code == 200
    page = resp.text
    assert "已审核归档 300 件" in page and "100 件未归档" in page
    assert page.count("审核人不能审核自己上传的档案") == 100
    with app.app_context():
        status = dict(db.session.execute(select(Record.id, Record.status).where(Record.id.in_(record_ids))).all())
        assert {rid for rid, s in status.items() if s == "draft"} == own
        reviews = db.session.scalars(select(AuditEntry.details).where(AuditEntry.action == "record.review")).all()
        assert len(reviews) == 300 and all(json.loads(d)["comment"] == "已核对" for d in reviews)
    assert 'id="queue-total">共 0 件' in client.get("/review").text

    # The same rule for the API: each record's outcome, the reviewer's own refused.
    client.post("/logout")
    login(client, "reviewer")
    got = client.post("/api/v1/review-queue/approve", json={"record_ids": sorted(own)[:3] + [999999]}).json
    assert [i["approved"] for i in got["items"]] == [True, True, True, False]
    assert got["items"][3]["reason"] and got["approved"] == 3


def test_a_draft_sent_back_reaches_the_uploaders_inbox_and_returns_when_saved(app, client, users):
    app.config["CLOCK"] = lambda: NOW
    with app.app_context():
        draft = make_record(make_customer(name="退回客户"), filed=False, title="认购书（页序颠倒）")
        draft_id, code = draft.id, draft.archival_code
    login(client, "reviewer")
    assert client.post(f"/records/{draft_id}/send-back", data={"reason": ""}).status_code == 302
    with app.app_context():
        assert db.session.get(Record, draft_id).returned_at is None  # no reason, not sent back
    client.post(f"/records/{draft_id}/send-back", data={"reason": "第 2 页扫描模糊，请重扫", "back": "queue"})
    assert 'id="queue-total">共 0 件' in client.get("/review").text

    client.post("/logout")
    login(client, "archivist")
    assert f"档案 {code} 被退回修改：第 2 页扫描模糊，请重扫" in client.get("/inbox").text
    assert "第 2 页扫描模糊，请重扫" in client.get(f"/records/{draft_id}").text
    # The uploader fixes the title in the page; the draft goes back to the queue, the notice goes away.
    form = client.get(f"/records/{draft_id}/edit").text
    assert "保存并重新提交审核" in form
    assert client.post(f"/records/{draft_id}/edit", data={"title": "认购书", "record_type": "购房合同",
                                                          "doc_date": "", "secrecy": "1"}).status_code == 302
    assert "被退回修改" not in client.get("/inbox").text
    client.post("/logout")
    login(client, "reviewer")
    assert 'id="queue-total">共 1 件' in client.get("/review").text
    with app.app_context():
        sent = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "record.send_back"))
        assert json.loads(sent.details)["reason"] == "第 2 页扫描模糊，请重扫"


def test_correcting_a_filed_record_needs_a_reason_and_is_audited(app, client, users):
    app.config["CLOCK"] = lambda: NOW
    with app.app_context():
        rec = make_record(make_customer(name="更正客户"), title="购房合同（错字）", doc_date="2026-05-01")
        rec_id = rec.id
    login(client, "archivist")
    assert "须填写原因" in client.get(f"/records/{rec_id}").text
    no_reason = client.post(f"/records/{rec_id}/edit", data={"title": "购房合同", "record_type": "购房合同",
                                                            "doc_date": "2026-05-02", "secrecy": "1", "reason": " "})
    assert no_reason.status_code == 400 and "请填写更正原因" in no_reason.text
    with app.app_context():
        assert db.session.get(Record, rec_id).title == "购房合同（错字）"
    done = client.post(f"/records/{rec_id}/edit", data={"title": "购房合同", "record_type": "购房合同",
                                                       "doc_date": "2026-05-02", "secrecy": "1",
                                                       "reason": "题名录入错字，日期以合同落款为准"})
    assert done.status_code == 302
    with app.app_context():
        r = db.session.get(Record, rec_id)
        assert (r.title, r.doc_date.isoformat(), r.status) == ("购房合同", "2026-05-02", "filed")
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "record.correct"))
        details = json.loads(entry.details)
        assert details["reason"] == "题名录入错字，日期以合同落款为准"
        assert details["changes"]["title"] == {"before": "购房合同（错字）", "after": "购房合同"}
        assert details["changes"]["doc_date"] == {"before": "2026-05-01", "after": "2026-05-02"}
        assert db.session.scalar(select(func.count()).where(AuditEntry.action == "record.correct")) == 1
    # A reviewer may not correct (the keepers do), and the same through the API needs a reason too.
    client.post("/logout")
    login(client, "reviewer")
    assert client.post(f"/records/{rec_id}/edit", data={"title": "x", "reason": "y"}).status_code == 403
    client.post("/logout")
    login(client, "archivist")
    api = client.post(f"/api/v1/records/{rec_id}/corrections", json={"changes": {"title": "购房合同 A"}})
    assert api.status_code == 400 and api.json["error"]["code"] == "reason_required"
    ok = client.post(f"/api/v1/records/{rec_id}/corrections", json={"changes": {"title": "购房合同 A"},
                                                                    "reason": "补充栋号"})
    assert ok.status_code == 200 and ok.json["title"] == "购房合同 A"
