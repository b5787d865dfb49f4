"""Find: uploads are read in the background (never in the request), indexed, and found by the people allowed."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from archive_app.extensions import db
from archive_app.intake.models import FilePage
from archive_app.jobs import run_pending
from archive_app.wiring import get_index

from .conftest import WHOOSH_STACKS
from .generated import images as gi
from .generated import texts
from .helpers import login, make_pdf, new_customer, truncated_png, upload


def _drain(app) -> int:
    with app.app_context():
        return run_pending()


def test_upload_is_read_in_the_background_then_found(app, client, users):
    login(client, "archivist")
    c = new_customer(client, name="欧阳明华", phones="13812345678", project="阳光花园", unit="3栋1201室",
                     address="广州市天河区体育西路100号")
    # a scanned page of the filing rule (texts.SCAN_LINES), as a PNG
    rec = upload(client, c["id"], [(gi.png_bytes(gi.scan()), "温馨卡.png")], record_type="温馨卡", secrecy=1).json
    # the request returned before any text was read
    status = client.get(f"/api/v1/records/{rec['id']}/status").json
    assert status["text_status"] == "queued" and status["files"][0]["pages_done"] == 0
    assert _drain(app) >= 1
    status = client.get(f"/api/v1/records/{rec['id']}/status").json
    assert status["text_status"] == "done", status
    pages = client.get(f"/api/v1/records/{rec['id']}/files/{rec['files'][0]['id']}/pages").json["pages"]
    assert texts.SCAN_PHRASE in pages[0]["text"] and pages[0]["source"] == "ocr"

    def hits(q: str, who=client) -> list[int]:
        body = who.get("/api/v1/search", query_string={"q": q}).json
        return [item["record"]["id"] for item in body["items"]]

    # the scan's phrases (also typed in Traditional script), the customer's name, pinyin, phone, address
    for q in (texts.SCAN_PHRASE, texts.SCAN_PHRASE_TRADITIONAL, texts.SCAN_PHRASE_2, "明华", "欧阳明华",
              "ouyangminghua", "oymh", "5678", "13812345678", "阳光花园 3栋", "体育西", rec["archival_code"]):
        assert hits(q)[:1] == [rec["id"]], q
    body = client.get("/api/v1/search", query_string={"q": "一户一档"}).json
    assert "<mark>" in body["items"][0]["snippet"]
    assert hits("量子纠缠") == [] and hits("9999") == []
    # the page's thumbnail and viewer image exist for someone allowed to read the content
    thumb = client.get(f"/records/{rec['id']}/files/{rec['files'][0]['id']}/pages/1/thumb")
    assert thumb.status_code == 200 and thumb.data[:3] == b"\xff\xd8\xff"
    page = client.get(f"/records/{rec['id']}/files/{rec['files'][0]['id']}/pages/1")
    assert page.status_code == 200 and texts.SCAN_PHRASE in page.text
    search_page = client.get("/search", query_string={"q": "一户一档"})
    assert search_page.status_code == 200 and rec["archival_code"] in search_page.text
    client.post("/logout")

    # a colleague of another department never learns it exists: no hit, no count, no thumbnail
    login(client, "staff_other")
    body = client.get("/api/v1/search", query_string={"q": texts.SCAN_PHRASE}).json
    assert body["total"] == 0 and body["items"] == []
    assert client.get(f"/records/{rec['id']}/files/{rec['files'][0]['id']}/pages/1/thumb").status_code == 404
    page = client.get("/search", query_string={"q": "购房合同原件"}).text
    assert "共找到 0 件" in page and rec["archival_code"] not in page and "交档案室归档" not in page


def test_clearance_is_inside_the_search(app, client, users):
    login(client, "archivist")
    c = new_customer(client, name="司马光", department="销售一部")
    secret = upload(client, c["id"], [(make_pdf(marker="s"), "s.pdf")], secrecy=2, title="保密协议 司马光").json
    internal = upload(client, c["id"], [(make_pdf(marker="i"), "i.pdf")], secrecy=1, title="认购书 司马光").json
    _drain(app)
    client.post("/logout")
    login(client, "staff")  # 内部 clearance, same department
    body = client.get("/api/v1/search", query_string={"q": "司马光"}).json
    assert body["total"] == 1 and [i["record"]["id"] for i in body["items"]] == [internal["id"]]
    client.post("/logout")
    login(client, "staff_secret")
    body = client.get("/api/v1/search", query_string={"q": "司马光", "sort": "date"}).json
    assert body["total"] == 2
    assert {i["record"]["id"] for i in body["items"]} == {secret["id"], internal["id"]}
    only = client.get("/api/v1/search", query_string={"q": "司马光", "secrecy": 2}).json
    assert [i["record"]["id"] for i in only["items"]] == [secret["id"]]


def test_jobs_are_idempotent_and_a_broken_file_fails_alone(app, client, users):
    from archive_app.jobs import extract_one

    login(client, "archivist")
    c = new_customer(client, name="测试客户")
    good = upload(client, c["id"], [(gi.slip_photo(), "a.jpg")]).json
    broken = upload(client, c["id"], [(truncated_png(), "cut.png")]).json
    _drain(app)
    statuses = {r["id"]: client.get(f"/api/v1/records/{r['id']}/status").json for r in (good, broken)}
    assert statuses[good["id"]]["text_status"] == "done"
    broken_file = statuses[broken["id"]]["files"][0]
    assert broken_file["text_status"] == "failed"
    assert broken_file["text_error"].startswith("corrupt_file: ") and "损坏" in broken_file["text_error"]
    page = client.get(f"/records/{broken['id']}").text
    assert "失败" in page and "损坏" in page
    with app.app_context():
        fid = good["files"][0]["id"]
        before = db.session.scalar(select(func.count(FilePage.id)).where(FilePage.file_id == fid))
        extract_one(fid)
        extract_one(fid)
        after = db.session.scalar(select(func.count(FilePage.id)).where(FilePage.file_id == fid))
        assert before == after == 1
        run_pending()  # the index jobs the two commits queued
        index = get_index()
        assert index.doc_count() == 2


def test_reindex_rebuilds_from_the_database(app, client, runner, users):
    login(client, "archivist")
    c = new_customer(client, name="诸葛亮", project="卧龙苑")
    rec = upload(client, c["id"], [(make_pdf(marker="z"), "z.pdf")], title="购房合同 卧龙苑").json
    _drain(app)
    with app.app_context():
        get_index().clear()
    assert client.get("/api/v1/search", query_string={"q": "诸葛亮"}).json["total"] == 0
    result = runner.invoke(args=["reindex", "--batch", "1"])
    assert result.exit_code == 0, result.output
    assert "1 records" in result.output
    body = client.get("/api/v1/search", query_string={"q": "卧龙苑"}).json
    assert [i["record"]["id"] for i in body["items"]] == [rec["id"]]


def test_customer_change_reaches_the_index(app, client, users):
    login(client, "archivist")
    c = new_customer(client, name="单雄信")
    rec = upload(client, c["id"], [(make_pdf(marker="d"), "d.pdf")]).json
    _drain(app)
    assert client.get("/api/v1/search", query_string={"q": "shanxiongxin"}).json["total"] == 1
    client.patch(f"/api/v1/customers/{c['id']}", json={"phones": "13700001111", "project": "翠湖山庄", "reason": "更正"})
    _drain(app)
    body = client.get("/api/v1/search", query_string={"q": "翠湖山庄 1111"}).json
    assert [i["record"]["id"] for i in body["items"]] == [rec["id"]]


@pytest.mark.parametrize("app", WHOOSH_STACKS, indirect=True)  # the index folder itself
def test_damaged_index_is_reported_not_deleted(app, client, users):
    from pathlib import Path

    login(client, "archivist")
    c = new_customer(client, name="解晓东")
    upload(client, c["id"], [(make_pdf(marker="x"), "x.pdf")])
    _drain(app)
    index_dir = Path(app.config["INDEX_DIR"])
    # segment files (compound .seg, or .trm/.pst/... per segment), not the table of contents
    segments = sorted(p for p in index_dir.iterdir() if p.name.startswith("MAIN_") and p.stat().st_size > 64)
    assert segments
    for seg in segments:
        seg.write_bytes(seg.read_bytes()[:64])  # a disk fault cut the segment files short
    app.extensions.pop("search_index").close()  # a fresh process opens the index again
    resp = client.get("/api/v1/search", query_string={"q": "解晓东"})
    assert resp.status_code == 503 and resp.json["error"]["code"] == "index_damaged"
    assert "archive reindex" in resp.json["error"]["message"]
    assert all(seg.exists() for seg in segments)  # reported, never silently deleted


def _three_records(app, client) -> list[dict]:
    login(client, "archivist")
    c = new_customer(client, name="上官婉儿", project="长安城")
    recs = [upload(client, c["id"], [(make_pdf(marker=str(i)), f"{i}.pdf")], title=f"往来函件 第{i}号",
                   record_type="往来函件").json for i in range(3)]
    _drain(app)
    return recs


def test_interrupted_reindex_resumes(app, client, users):
    from archive_app.finding.search import rebuild_index

    recs = _three_records(app, client)

    def crash_after_first_batch(done: int, total: int) -> None:
        raise KeyboardInterrupt("power cut")  # the process dies after one committed batch

    with app.app_context():
        index = get_index()
        try:
            rebuild_index(db.session, index, batch=1, commit_every=1, progress=crash_after_first_batch)
        except KeyboardInterrupt:
            pass
        resumed_from = index.reindex_checkpoint()  # the first batch was committed and checkpointed
        assert resumed_from == recs[0]["id"] and index.doc_count() == 1
        count = rebuild_index(db.session, index, batch=1, commit_every=1, resume=True)
        assert count == 3 and index.doc_count() == 3 and index.reindex_checkpoint() is None
    body = client.get("/api/v1/search", query_string={"q": "上官婉儿"}).json
    assert body["total"] == 3


@pytest.mark.parametrize("app", WHOOSH_STACKS, indirect=True)  # the index folder itself
def test_schema_change_rebuilds_the_index_by_itself(app, client, users):
    from pathlib import Path

    _three_records(app, client)
    app.extensions.pop("search_index").close()
    version = Path(app.config["INDEX_DIR"]) / "SCHEMA_VERSION"
    version.write_text("1\n")  # an index written by an older release
    # the next use opens a fresh index and queues a full rebuild from the database
    assert client.get("/api/v1/search", query_string={"q": "长安城"}).json["total"] == 0
    _drain(app)
    assert client.get("/api/v1/search", query_string={"q": "长安城"}).json["total"] == 3


@pytest.mark.parametrize("app", ["postgresql-s3"], indirect=True)  # ARCHIVE_SEARCH_BACKEND=postgres
def test_a_customer_moved_to_another_department_leaves_its_search_in_the_same_transaction(app, client, users):
    from archive_app.accounts.models import Department, User
    from archive_app.finding.search import access_for
    from archive_app.intake.models import Customer
    from search_index import SearchRequest

    login(client, "archivist")
    c = new_customer(client, name="欧阳修", department="销售一部")
    upload(client, c["id"], [(make_pdf(marker="m"), "m.pdf")], title="认购书 醉翁亭")
    req = SearchRequest(text="醉翁亭")
    with app.app_context():
        index = get_index()
        one, two = (access_for(db.session.get(User, users[u])) for u in ("staff", "staff_other"))
        assert (index.search(req, one).total, index.search(req, two).total) == (1, 0)
        customer = db.session.get(Customer, c["id"])
        customer.department_id = db.session.scalar(select(Department.id).where(Department.name == "销售二部"))
        db.session.flush()  # not committed: the same transaction already searches so
        assert (index.search(req, one).total, index.search(req, two).total) == (0, 1)
        assert index.search_customers("欧阳修", one) == [] and index.search_customers("欧阳修", two) == [c["id"]]
        db.session.rollback()  # the rows go back with the customer
        assert (index.search(req, one).total, index.search(req, two).total) == (1, 0)
        customer = db.session.get(Customer, c["id"])
        customer.department_id = db.session.scalar(select(Department.id).where(Department.name == "销售二部"))
        db.session.commit()
    with app.app_context():  # another session, right after the commit: no job ran
        assert (get_index().search(req, one).total, get_index().search(req, two).total) == (0, 1)
    client.post("/logout")
    login(client, "staff")
    assert client.get("/api/v1/search", query_string={"q": "醉翁亭"}).json["total"] == 0


@pytest.mark.parametrize("app", ["postgresql-s3"], indirect=True)  # ARCHIVE_SEARCH_BACKEND=postgres
def test_search_tables_migrated_beside_records_are_built_by_a_job(app, client, users):
    from sqlalchemy import text

    from search_index import Access, SearchRequest

    login(client, "archivist")
    c = new_customer(client, name="王勃", department="销售一部")
    upload(client, c["id"], [(make_pdf(marker="w"), "w.pdf")], title="滕王阁序")
    everyone, req = Access(3, None), SearchRequest(text="滕王阁")
    with app.app_context():
        # as migration 0019 leaves an archive that already held records
        db.session.execute(text("TRUNCATE search_records, search_customers"))
        db.session.execute(text("INSERT INTO search_state (name, value) VALUES ('needs_rebuild', '1')"))
        db.session.commit()
        app.extensions.pop("search_index_checked", None)  # a new process
        assert get_index().search(req, everyone).total == 0
        run_pending()  # the rebuild get_index queued
        assert get_index().search(req, everyone).total == 1 and not get_index().wants_rebuild()
        assert get_index().search_customers("王勃", everyone) == [c["id"]]
