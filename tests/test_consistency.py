"""No half-written state: storage down -> no row; database failing -> no blob; orphans swept."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from archive_app.extensions import db
from archive_app.intake.models import Record, RecordFile
from archive_app.intake.records import sweep_orphans

from .conftest import make_app
from .helpers import PDF_MIN, login, make_pdf, new_customer, upload


def _row_count(app) -> tuple[int, int]:
    with app.app_context():
        return (db.session.scalar(select(func.count(Record.id))),
                db.session.scalar(select(func.count(RecordFile.id))))


@pytest.mark.parametrize("stack", ["sqlite-fs", "postgresql-s3"])
def test_storage_failure_writes_no_row(stack, tmp_path, request, users_factory):
    """Storage that really fails: a file store whose records folder is a file, an S3 port nobody serves."""
    from .s3server import free_port

    if stack == "sqlite-fs":
        blobs = tmp_path / "blobs"
        blobs.mkdir()
        (blobs / "records").write_text("not a folder")  # no blob can be written under records/
        extra = {"STORAGE_DIR": str(blobs)}
    else:
        extra = {"S3_ENDPOINT": f"127.0.0.1:{free_port()}"}  # nothing listens there
    app = make_app(stack, tmp_path, request, extra)
    users_factory(app)
    client = app.test_client()
    login(client, "archivist")
    c = new_customer(client)
    resp = upload(client, c["id"], [(PDF_MIN, "a.pdf")])
    assert resp.status_code == 503
    assert resp.json["error"]["code"] == "storage_unavailable"
    assert "未保存" in resp.json["error"]["message"]
    assert _row_count(app) == (0, 0)


def _install_failing_trigger(app) -> None:
    """A real database error on insert into record_files (not a mock: the database refuses)."""
    with app.app_context(), db.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("CREATE TRIGGER fail_files BEFORE INSERT ON record_files "
                                 "BEGIN SELECT RAISE(ABORT, 'injected failure'); END")
        else:
            conn.exec_driver_sql("CREATE OR REPLACE FUNCTION fail_files() RETURNS trigger AS $$ "
                                 "BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql")
            conn.exec_driver_sql("CREATE TRIGGER fail_files BEFORE INSERT ON record_files "
                                 "FOR EACH ROW EXECUTE FUNCTION fail_files()")


def _drop_failing_trigger(app) -> None:
    with app.app_context(), db.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS fail_files")
        else:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS fail_files ON record_files")
            conn.exec_driver_sql("DROP FUNCTION IF EXISTS fail_files()")


def test_database_failure_removes_the_blob(app, client, users, store):
    login(client, "archivist")
    c = new_customer(client)
    _install_failing_trigger(app)
    try:
        resp = upload(client, c["id"], [(make_pdf(2), "a.pdf"), (PDF_MIN, "b.pdf")])
    finally:
        _drop_failing_trigger(app)
    assert resp.status_code == 503
    assert resp.json["error"]["code"] == "database_error"
    assert _row_count(app) == (0, 0)
    assert list(store.keys("records/")) == []
    # and the file can be filed normally once the database is healthy again
    ok = upload(client, c["id"], [(make_pdf(2), "a.pdf")])
    assert ok.status_code == 201
    assert ok.json["archival_code"].endswith("-3-0001")


def test_sweep_removes_only_old_unreferenced_blobs(app, client, users, store):
    import io

    login(client, "archivist")
    c = new_customer(client)
    assert upload(client, c["id"], [(PDF_MIN, "a.pdf")]).status_code == 201
    store.put("records/C000001/orphan", io.BytesIO(b"left by a crash"))
    with app.app_context():
        # a cut-off in the past spares the orphan (it might be an upload in flight)
        assert sweep_orphans(db.session, store, datetime.now(timezone.utc) - timedelta(hours=1)) == []
        removed = sweep_orphans(db.session, store, datetime.now(timezone.utc) + timedelta(minutes=1))
        referenced = db.session.scalar(select(RecordFile.object_key))
    assert removed == ["records/C000001/orphan"]
    assert list(store.keys("records/")) == [referenced]


def test_the_worker_sweeps_leftovers_every_night(app, client, users, store):
    import io

    from archive_app.jobs import sweep_leftovers

    assert "sweep_leftovers" in app.extensions["tasks"]
    login(client, "archivist")
    c = new_customer(client)
    assert upload(client, c["id"], [(PDF_MIN, "a.pdf")]).status_code == 201
    store.put("records/C000001/orphan", io.BytesIO(b"left by a crash"))
    with app.app_context():
        assert sweep_leftovers() == (0, 0)  # younger than the grace: it might be an upload in flight
    app.config["CLOCK"] = lambda: datetime.now(timezone.utc) + timedelta(hours=25)
    with app.app_context():
        assert sweep_leftovers() == (1, 0)
        referenced = db.session.scalar(select(RecordFile.object_key))
    assert list(store.keys("records/")) == [referenced]
