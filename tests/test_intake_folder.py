"""Intake in bulk: the naming rule 客户号_类型_日期, the watched intake folder (both stacks), and the
one-file-per-request upload the bulk page sends (POST /api/v1/intake/files)."""
from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from archive_app.accounts.models import User
from archive_app.audit.models import AuditEntry
from archive_app.errors import ValidationFailed
from archive_app.extensions import db
from archive_app.intake import intake_folder
from archive_app.intake.models import Record, RecordFile
from archive_app.intake.naming_rule import parse_name
from archive_app.jobs import run_pending
from archive_app.wiring import archive_settings, get_store, now

from .helpers import login, make_pdf, new_customer

# ------------------------------------------------------------------------------------- the naming rule


@pytest.mark.parametrize(("name", "expected"), [
    ("C000123_购房合同_20240315.pdf", ("C000123", "购房合同", date(2024, 3, 15), None)),
    ("c000123_gfht_20240315.PDF", ("C000123", "购房合同", date(2024, 3, 15), None)),
    ("C000007_SJ_20231231_3号楼定金.jpg", ("C000007", "收据", date(2023, 12, 31), "3号楼定金")),
    ("C000007_营业执照副本复印件_20240229.tiff", ("C000007", "营业执照副本复印件", date(2024, 2, 29), None)),
])
def test_good_names_are_read(name: str, expected: tuple) -> None:
    got = parse_name(name)
    assert (got.customer_no, got.record_type, got.doc_date, got.title) == expected


@pytest.mark.parametrize(("name", "code"), [
    ("C000123_购房合同_20240315", "bad_file_name"),          # no extension
    ("C000123_购房合同.pdf", "bad_file_name"),                # two parts
    ("scan0001.pdf", "bad_file_name"),
    ("123_购房合同_20240315.pdf", "invalid_customer_no"),
    ("C12_购房合同_20240315.pdf", "invalid_customer_no"),
    ("C000123_合同_20240315.pdf", "invalid_record_type"),
    ("C000123_XYZ_20240315.pdf", "invalid_record_type"),
    ("C000123_购房合同_2024-03-15.pdf", "invalid_date"),
    ("C000123_购房合同_20230229.pdf", "invalid_date"),       # not a leap year
    ("C000123_购房合同_20241301.pdf", "invalid_date"),
])
def test_bad_names_are_refused_with_a_code(name: str, code: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_name(name)
    assert refused.value.code == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in refused.value.message)  # said in Chinese


def test_files_still_being_written_are_not_candidates() -> None:
    for name in ("scan.pdf.part", "C000001_收据_20240101.pdf.crdownload", ".~lock.pdf#", "~$draft.pdf",
                 ".archive-intake-state.json", "x.pdf.reason.txt"):
        assert intake_folder.is_temporary(name), name
    assert not intake_folder.is_temporary("C000001_收据_20240101.pdf")
    assert intake_folder.settled({"a.pdf": (10, 1), "b.pdf": (5, 1)}, {"a.pdf": (10, 1), "b.pdf": (6, 2),
                                                                     "c.pdf": (1, 1)}) == ["a.pdf"]


# ------------------------------------------------------------------------------------ the watched folder


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_the_folder_files_what_it_can_and_moves_the_rest_aside(app, client, users, runner, tmp_path: Path):
    login(client, "archivist")
    customer = new_customer(client, name="夹中客户")
    number = customer["customer_no"]
    folder = tmp_path / "intake"
    folder.mkdir()
    good = make_pdf(marker="folder-good")
    (folder / f"{number}_购房合同_20240315.pdf").write_bytes(good)
    (folder / "C999999_收据_20240101.pdf").write_bytes(make_pdf(marker="nobody"))
    (folder / f"{number}_发票_20240102.pdf").write_bytes(b"%PDF-1.7\n1 0 obj broken\n%%EOF")
    (folder / f"{number}_收据_20240103.pdf.part").write_bytes(b"still arriving")
    app.config["INTAKE_FOLDER"] = str(folder)

    result = runner.invoke(args=["intake-folder", "--once", "--settle", "0"])
    assert result.exit_code == 0, result.output
    assert "1 filed, 2 rejected" in result.output

    done = sorted(p.name for p in (folder / "done").iterdir())
    assert done == [f"{number}_购房合同_20240315.pdf"]
    rejected = sorted(p.name for p in (folder / "rejected").iterdir())
    assert rejected == sorted(["C999999_收据_20240101.pdf", "C999999_收据_20240101.pdf.reason.txt",
                               f"{number}_发票_20240102.pdf", f"{number}_发票_20240102.pdf.reason.txt"])
    unknown = (folder / "rejected" / "C999999_收据_20240101.pdf.reason.txt").read_text(encoding="utf-8")
    assert "customer_not_found" in unknown and "客户号不存在" in unknown
    broken = (folder / "rejected" / f"{number}_发票_20240102.pdf.reason.txt").read_text(encoding="utf-8")
    assert "corrupt_pdf" in broken and "已损坏" in broken
    assert (folder / f"{number}_收据_20240103.pdf.part").exists()  # left alone while written
    assert (folder / "rejected" / "C999999_收据_20240101.pdf").read_bytes().startswith(b"%PDF")  # kept whole

    with app.app_context():
        store = get_store()
        # nothing half-written: one record, one file row, one blob, and they point at each other
        assert (_count(Record), _count(RecordFile)) == (1, 1)
        row = db.session.scalars(select(RecordFile)).one()
        assert list(store.keys("records/")) == [row.object_key]
        with store.open(row.object_key) as stored:
            assert stored.read() == good
        record = db.session.get(Record, row.record_id)
        assert (record.record_type, record.doc_date, record.status) == ("购房合同", date(2024, 3, 15), "draft")
        filer = db.session.get(User, record.created_by_id)
        assert filer.username == intake_folder.SYSTEM_USERNAME
        actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("intake_folder.%"))).all()
        assert sorted(actions) == ["intake_folder.file", "intake_folder.reject", "intake_folder.reject"]
        code = record.archival_code
    assert f"filed {number}_购房合同_20240315.pdf -> {code}" in result.output

    # The same content again (as after a crash between the commit and the move): refused, not filed twice.
    (folder / f"{number}_购房合同_20240315_again.pdf").write_bytes(good)
    again = runner.invoke(args=["intake-folder", "--once", "--settle", "0"])
    assert "0 filed, 1 rejected" in again.output, again.output
    reason = (folder / "rejected" / f"{number}_购房合同_20240315_again.pdf.reason.txt").read_text(encoding="utf-8")
    assert "duplicate_file" in reason
    with app.app_context():
        assert (_count(Record), _count(RecordFile)) == (1, 1)


def test_a_file_still_growing_waits_for_the_next_poll(app, users, tmp_path: Path):
    folder = tmp_path / "intake"
    folder.mkdir()
    growing = folder / "C000001_收据_20240101.pdf"
    growing.write_bytes(b"%PDF-1.7\n")
    settings = intake_folder.FolderSettings(str(folder), "archivist")  # ARCHIVE_INTAKE_FOLDER_USER
    with app.app_context():
        run = intake_folder.run(db.session, get_store(), archive_settings(), settings, now=now,
                                settle=lambda: growing.write_bytes(b"%PDF-1.7\nmore bytes arrive\n"))
        assert (run.outcomes, run.waiting) == ([], [growing.name])
        assert growing.exists()
    # the worker's polls (its periodic task) compare with the previous one: grown since, the file waits;
    # unchanged, it is handled
    app.config.update(INTAKE_FOLDER=str(folder), INTAKE_FOLDER_USER="archivist")
    growing.write_bytes(b"%PDF-1.7\nmore bytes arrive\nand more\n")
    poll = app.extensions["tasks"]["intake_folder"]
    with app.app_context():
        poll()
        assert run_pending() == 1
    assert growing.exists() and not any((folder / "rejected").iterdir())
    with app.app_context():
        poll()
        assert run_pending() == 1
    assert not growing.exists()
    reason = (folder / "rejected" / f"{growing.name}.reason.txt").read_text(encoding="utf-8")
    assert "customer_not_found" in reason
    with app.app_context():
        assert db.session.scalars(select(AuditEntry.actor_id).where(
            AuditEntry.action == "intake_folder.reject")).all() == [users["archivist"]]
        with pytest.raises(ValidationFailed) as refused:  # a user who may not upload files nothing
            intake_folder.intake_actor(db.session, "staff")
        assert refused.value.code == "intake_user_invalid"


# ------------------------------------------------------------------------ one file per request (the page)


def test_a_file_is_uploaded_by_customer_number(app, client, users):
    login(client, "archivist")
    customer = new_customer(client, name="逐个上传")
    sent = client.post("/api/v1/intake/files", content_type="multipart/form-data", data={
        "customer_no": customer["customer_no"].lower(), "record_type": "FP", "doc_date": "2024-05-06",
        "file": (io.BytesIO(make_pdf(marker="one-by-one")), "发票.pdf")})
    assert sent.status_code == 201, sent.json
    assert (sent.json["record_type"], sent.json["customer_id"]) == ("发票", customer["id"])
    assert sent.json["archival_code"].endswith(f"{customer['customer_no']}-2-0001")
    missing = client.post("/api/v1/intake/files", content_type="multipart/form-data", data={
        "customer_no": "C999999", "record_type": "发票", "file": (io.BytesIO(make_pdf(marker="x")), "x.pdf")})
    assert missing.status_code == 404 and missing.json["error"]["code"] == "customer_not_found"
    assert missing.json["error"]["message"] == "客户号不存在：C999999"
    client.post("/logout")
    login(client, "staff")  # may not upload: refused alike whether the number exists or not
    for number in (customer["customer_no"], "C999999"):
        refused = client.post("/api/v1/intake/files", data={"customer_no": number, "record_type": "发票"})
        assert refused.status_code == 403, refused.json
