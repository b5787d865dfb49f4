"""四性检测 at intake: each upload gets authenticity, integrity, usability and security results, shown on
the record page, listed and exported per batch, re-run by archivists, and read through the API.

The files are real: generated PDFs that run a script, launch a program or carry an attachment, a PNG
cut off halfway, and the stored bytes flipped behind the application's back for the re-run.
"""
from __future__ import annotations

import io
import json

from openpyxl import load_workbook
from sqlalchemy import select

from archive_app.audit.models import AuditEntry
from archive_app.extensions import db
from archive_app.intake import filetypes
from archive_app.intake.models import AdmissionCheck
from archive_app.jobs import run_pending

from .generated import pdfs
from .helpers import login, new_customer, truncated_png, upload
from .test_fixity import _flip

COMPLETE = {"doc_date": "2026-11-20", "location_room": "一号库房"}


def _results(app, record_id: int) -> dict[tuple[str, bool], tuple[str, str]]:
    """(kind, of a file) -> (result, detail) of a record's stored checks."""
    with app.app_context():
        rows = db.session.scalars(select(AdmissionCheck).where(AdmissionCheck.record_id == record_id)).all()
        return {(r.kind, r.file_id != 0): (r.result, r.detail) for r in rows}


def _drain(app) -> None:
    with app.app_context():
        run_pending()


def test_a_normal_upload_passes_all_four_once_its_first_page_rendered(app, client, users):
    login(client, "archivist")
    c = new_customer(client)
    resp = upload(client, c["id"], [(pdfs.text_pdf(marker="normal"), "合同.pdf")], **COMPLETE)
    assert resp.status_code == 201, resp.json
    rid = resp.json["id"]
    at_intake = _results(app, rid)
    assert at_intake[("authenticity", True)][0] == "passed" and "审计日志" in at_intake[("authenticity", True)][1]
    assert at_intake[("integrity", False)][0] == "passed"
    assert at_intake[("security", True)][0] == "passed"
    # the upload only opened the file; rendering is the extraction job's, and decides usability
    assert at_intake[("usability", True)][0] == "pending"
    _drain(app)
    after = _results(app, rid)
    assert {k: v[0] for k, v in after.items()} == {("authenticity", True): "passed", ("integrity", False): "passed",
                                                  ("usability", True): "passed", ("security", True): "passed"}
    assert "第 1 页已渲染" in after[("usability", True)][1]
    page = client.get(f"/records/{rid}").text
    assert 'id="four-checks"' in page and "可用性：通过" in page and "重新检测" in page
    # auditors see the checks and do not run them again; staff see the record but not its checks
    client.post("/logout")
    login(client, "auditor")
    page = client.get(f"/records/{rid}").text
    assert 'id="four-checks"' in page and "重新检测" not in page
    client.post("/logout")
    login(client, "staff")
    assert 'id="four-checks"' not in client.get(f"/records/{rid}").text
    assert client.get(f"/api/v1/records/{rid}/checks").status_code == 403


def test_pdfs_that_run_scripts_launch_programs_or_carry_files_are_flagged_not_refused(app, client, users):
    login(client, "archivist")
    c = new_customer(client)
    expected = {"scripted.pdf": (pdfs.scripted_pdf(), ["JavaScript", "OpenAction"]),
                "launch.pdf": (pdfs.launch_pdf(), ["Launch"]),
                "attached.pdf": (pdfs.attachment_pdf(), ["嵌入文件：setup.exe"]),
                "locked.pdf": (pdfs.encrypted_pdf(pdfs.text_pdf(marker="locked"), user_password=""), ["已加密"])}
    for name, (data, words) in expected.items():
        resp = upload(client, c["id"], [(data, name)], **COMPLETE)
        assert resp.status_code == 201, (name, resp.json)
        result, detail = _results(app, resp.json["id"])[("security", True)]
        assert result == "flag", (name, detail)
        assert all(w in detail for w in words), (name, detail)
    clean = upload(client, c["id"], [(pdfs.text_pdf(marker="clean"), "clean.pdf")], **COMPLETE).json
    # the batch page lists exactly the flagged ones under 「需关注」 for security
    listed = client.get("/admin/four-checks", query_string={"kind": "security", "result": "flag"}).text
    for name in expected:
        assert name in listed
    assert clean["archival_code"] not in listed
    # the reviewer sees each draft's worst result in the review queue, before filing it
    client.post("/logout")
    login(client, "reviewer")
    queue = client.get("/review").text
    assert queue.count('class="check flag"') == len(expected) and 'class="check pending"' in queue


def test_pdf_risks_follow_action_chains_and_spare_an_opening_at_a_page():
    def risks(data: bytes) -> set[str]:
        return {r.code for r in filetypes.examine(io.BytesIO(data), "x.pdf")[2]}

    assert risks(pdfs.goto_open_action_pdf()) == set()
    assert risks(pdfs.goto_open_action_pdf(then_script=True)) == {"javascript"}
    assert risks(pdfs.scripted_pdf()) == {"javascript", "open_action"}
    assert risks(pdfs.launch_pdf()) == {"launch"}
    assert risks(pdfs.attachment_pdf()) == {"embedded_file"}
    assert risks(pdfs.text_pdf(marker="plain")) == set()
    # the plain inspection that fixity and others use still answers as before
    assert filetypes.inspect(io.BytesIO(pdfs.scripted_pdf()), "x.pdf") == ("application/pdf", 1)


def test_a_file_that_does_not_render_fails_usability(app, client, users):
    login(client, "archivist")
    c = new_customer(client)
    resp = upload(client, c["id"], [(truncated_png(), "cut.png")], record_type="收据", **COMPLETE)
    assert resp.status_code == 201  # its header is fine: accepted at upload
    _drain(app)
    result, detail = _results(app, resp.json["id"])[("usability", True)]
    assert result == "failed" and "无法渲染" in detail
    listed = client.get("/admin/four-checks", query_string={"result": "failed"}).text
    assert resp.json["archival_code"] in listed


def test_a_file_the_stale_job_sweep_gave_up_on_fails_usability_at_the_next_sweep(app, client, users):
    from sqlalchemy import update

    from archive_app.intake.models import RecordFile
    from archive_app.jobs import requeue_stale

    login(client, "archivist")
    c = new_customer(client)
    rec = upload(client, c["id"], [(pdfs.text_pdf(marker="doomed"), "d.pdf")], **COMPLETE).json
    with app.app_context():
        # what extraction_job.requeue_stale does to a file whose worker died three times in a row
        db.session.execute(update(RecordFile).where(RecordFile.id == rec["files"][0]["id"]).values(
            extract_status="failed", extract_error="worker_crashed: 连续 3 次处理中断且未完成任何新页面，文件可能有问题"))
        db.session.commit()
        assert _results(app, rec["id"])[("usability", True)][0] == "pending"
        requeue_stale()
    result, detail = _results(app, rec["id"])[("usability", True)]
    assert result == "failed" and "连续 3 次处理中断" in detail


def test_missing_metadata_fails_integrity_and_a_correction_completes_it(app, client, users):
    login(client, "archivist")
    c = new_customer(client)  # a person without an ID number
    resp = upload(client, c["id"], [(pdfs.text_pdf(marker="id"), "id.pdf")], record_type="身份证复印件")
    rid = resp.json["id"]
    result, detail = _results(app, rid)[("integrity", False)]
    assert result == "failed"
    assert "原件存放位置（库房）" in detail and "客户身份证号" in detail
    assert "文件日期" not in detail  # an ID copy has no date of its own
    client.patch(f"/api/v1/records/{rid}", json={"location_room": "二号库房"})
    result, detail = _results(app, rid)[("integrity", False)]
    assert result == "failed" and "原件存放位置" not in detail and "客户身份证号" in detail
    contract = upload(client, c["id"], [(pdfs.text_pdf(marker="contract"), "c.pdf")], location_room="一号库房").json
    result, detail = _results(app, contract["id"])[("integrity", False)]
    assert result == "failed" and detail.endswith("文件日期")


def test_rerun_rehashes_the_stored_bytes_and_is_audited(app, client, users, store):
    login(client, "archivist")
    c = new_customer(client)
    rec = upload(client, c["id"], [(pdfs.text_pdf(marker="rerun"), "r.pdf")], **COMPLETE).json
    _flip(store, _object_key(app, rec["files"][0]["id"]))
    resp = client.post(f"/records/{rec['id']}/checks")
    assert resp.status_code == 302
    result, detail = _results(app, rec["id"])[("authenticity", True)]
    assert result == "failed" and "不符" in detail
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "admission_checks.run"))
        assert entry is not None and entry.object_id == str(rec["id"])
        assert json.loads(entry.details)["results"]["authenticity"] == "failed"
    client.post("/logout")
    login(client, "auditor")  # sees the results, does not run them
    assert client.post(f"/records/{rec['id']}/checks").status_code == 403


def _object_key(app, file_id: int) -> str:
    from archive_app.intake.models import RecordFile

    with app.app_context():
        return db.session.get(RecordFile, file_id).object_key


def test_batch_export_holds_every_check_and_is_audited(app, client, users):
    login(client, "archivist")
    c = new_customer(client)
    good = upload(client, c["id"], [(pdfs.text_pdf(marker="e1"), "好.pdf")], **COMPLETE).json
    bad = upload(client, c["id"], [(pdfs.scripted_pdf(), "脚本.pdf")]).json
    csv = client.get("/admin/four-checks.csv")
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    text = csv.data.decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0].startswith("档号,题名,档案类型")
    assert len(lines) == 1 + 2 * 4  # four checks for each of the two records
    assert f"{bad['archival_code']}" in text and "安全性,需关注" in text and "完整性,未通过" in text
    xlsx = client.get("/admin/four-checks.xlsx", query_string={"result": "problem"})
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    codes = {row[0] for row in sheet.iter_rows(min_row=3, values_only=True)}
    assert bad["archival_code"] in codes
    # usability is still pending for the good one, so it is a "problem" too until rendered
    assert good["archival_code"] in codes
    with app.app_context():
        exported = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "admission_checks.export")).all()
        assert [e.object_id for e in exported] == ["csv", "xlsx"] and json.loads(exported[0].details)["rows"] == 8
    assert client.get("/admin/four-checks", query_string={"date_from": "2026-13-01"}).status_code == 400


def test_api_gives_fixity_runs_and_a_records_checks(app, client, users, runner):
    login(client, "archivist")
    c = new_customer(client)
    rec = upload(client, c["id"], [(pdfs.attachment_pdf(), "a.pdf")], **COMPLETE).json
    before = client.get(f"/api/v1/records/{rec['id']}/checks").json
    assert before["fixity"][0]["status"] is None and before["fixity"][0]["label"] == "尚未检测"
    assert runner.invoke(args=["fixity-check", "--all"]).exit_code == 0
    runs = client.get("/api/v1/fixity/runs", query_string={"limit": 5}).json["items"]
    assert runs[0]["files_checked"] == 1 and runs[0]["failures"] == 0 and runs[0]["bytes_checked"] > 0
    got = client.get(f"/api/v1/records/{rec['id']}/checks").json
    assert got["fixity"] == [{"file_id": rec["files"][0]["id"], "file_name": "a.pdf", "status": "ok",
                              "label": "完好", "detail": "", "checked_at": got["fixity"][0]["checked_at"]}]
    assert got["four_checks"]["summary"] == {"authenticity": "passed", "integrity": "passed",
                                             "usability": "pending", "security": "flag"}
    assert {i["kind"] for i in got["four_checks"]["items"]} == {"authenticity", "integrity", "usability", "security"}
    assert client.get("/api/v1/fixity/runs", query_string={"limit": 0}).json["error"]["code"] == "invalid_parameter"
    again = client.post(f"/api/v1/records/{rec['id']}/checks")
    assert again.status_code == 200 and "存储内容复核一致" in next(
        i["detail"] for i in again.json["four_checks"]["items"] if i["kind"] == "authenticity")
    client.post("/logout")
    login(client, "staff")
    assert client.get("/api/v1/fixity/runs").status_code == 403
    assert client.post(f"/api/v1/records/{rec['id']}/checks").status_code == 403


def test_records_filed_before_the_checks_get_them_from_the_command(app, client, users, runner):
    login(client, "archivist")
    c = new_customer(client)
    old = upload(client, c["id"], [(pdfs.text_pdf(marker="old"), "old.pdf")]).json
    new = upload(client, c["id"], [(pdfs.text_pdf(marker="new"), "new.pdf")], **COMPLETE).json
    with app.app_context():  # as a record filed before migration 0011 has none
        db.session.execute(AdmissionCheck.__table__.delete().where(AdmissionCheck.record_id == old["id"]))
        db.session.commit()
    kept = _results(app, new["id"])
    result = runner.invoke(args=["four-checks"])
    assert result.exit_code == 0, result.output
    assert "1 record(s) checked" in result.output
    assert f"FAILED {old['archival_code']} 完整性" in result.output and new["archival_code"] not in result.output
    got = _results(app, old["id"])
    assert got[("authenticity", True)][0] == "passed" and "复核一致" in got[("authenticity", True)][1]
    assert got[("security", True)][0] == "passed" and got[("integrity", False)][0] == "failed"
    assert _results(app, new["id"]) == kept  # only the unchecked one
    assert "2 record(s) checked" in runner.invoke(args=["four-checks", "--all"]).output
