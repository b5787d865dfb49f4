"""A record, a grade change and a follow-up carry their customer's department (``department_id``), which a
department's 档案, 客户等级周报 and 回访 reports and landing page count by: set when the row is made, moved
with its customer, on both stacks. Each check holds the head's report against a count made here through the
customers, as the report counted before."""
from __future__ import annotations

import shutil
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy import func, select

from archive_app.accounts.models import Department
from archive_app.extensions import db
from archive_app.intake import customers
from archive_app.intake.models import Customer, Record, RecordFile
from archive_app.reports import dashboard
from archive_app.visits.follow_ups import record_follow_up
from archive_app.visits.grades import set_grade
from archive_app.visits.models import FollowUp, GradeChange

from .conftest import create_users
from .factories import acting, make_customer, make_record
from .helpers import login


def _department(name: str) -> int:
    return db.session.scalar(select(Department.id).where(Department.name == name))


def _out_of_step() -> list[tuple[int, int | None, int | None]]:
    """Records whose department is not their customer's (none, ever)."""
    return db.session.execute(select(Record.id, Record.department_id, Customer.department_id)
                              .join(Customer, Customer.id == Record.customer_id)
                              .where(Record.department_id.is_distinct_from(Customer.department_id))).all()


def _counted_through_customers(department: str, clearance: int) -> tuple[int, int, dict[str, int]]:
    """(records, drafts, files per reading state) the head of ``department`` sees, reached through the customers."""
    seen = (Customer.department_id == _department(department), Record.secrecy <= clearance)
    records = db.session.scalar(select(func.count()).select_from(Record).join(Customer).where(*seen))
    drafts = db.session.scalar(select(func.count()).select_from(Record).join(Customer)
                               .where(*seen, Record.status == "draft"))
    files = dict(db.session.execute(select(RecordFile.extract_status, func.count()).select_from(RecordFile)
                                    .join(Record).join(Customer).where(*seen)
                                    .group_by(RecordFile.extract_status)).all())
    return records, drafts, files


def _head_report(client) -> tuple[int, int, dict[str, int]]:
    """(records entered in the period, drafts, files per reading state) of the head's 档案 report."""
    body = client.get("/api/v1/reports/records").json
    assert body["scope"] == "销售一部"
    weeks, reading = body["tables"][0], body["tables"][1]
    drafts = int(weeks["title"].split("现有 ")[1].split(" 件")[0])
    labels = {"排队中": "queued", "识别中": "processing", "已完成": "done", "失败": "failed"}
    return sum(r[1] for r in weeks["rows"]), drafts, {labels[r[0]]: r[1] for r in reading["rows"] if r[1]}


def test_a_record_carries_its_customers_department_and_follows_a_move(app, client, users):
    with app.app_context():
        mine = make_customer(name="甲方", department="销售一部")
        other = make_customer(name="乙方", department="销售二部")
        filed = make_record(mine)
        draft = make_record(mine, filed=False)
        make_record(mine, secrecy=3)  # above the head's clearance: never counted for the head
        theirs = make_record(other)
        assert (filed.department_id, draft.department_id) == (_department("销售一部"),) * 2
        assert theirs.department_id == _department("销售二部")
        assert _out_of_step() == []
        clearance = acting("head").clearance
        before = _counted_through_customers("销售一部", clearance)
    login(client, "head")
    assert _head_report(client) == before == (2, 1, {"queued": 2})

    # The customer moves to 销售二部 (a direct correction): its records go with it.
    with app.app_context():
        customers.update_customer(db.session, acting("archivist"), mine.id,
                                  {"department": "销售二部", "reason": "客户转交二部跟进"}, now=datetime.now(UTC))
        db.session.commit()
        assert _out_of_step() == []
        assert set(db.session.scalars(select(Record.department_id).where(Record.customer_id == mine.id))) \
            == {_department("销售二部")}
        after = _counted_through_customers("销售一部", clearance)
    assert _head_report(client) == after == (0, 0, {})

    # And back, then a record added in its old department again.
    with app.app_context():
        customers.update_customer(db.session, acting("archivist"), mine.id,
                                  {"department": "销售一部", "reason": "转回一部"}, now=datetime.now(UTC))
        db.session.commit()
        added = make_record(db.session.get(Customer, mine.id), filed=False)
        assert added.department_id == _department("销售一部")
        assert _out_of_step() == []
        again = _counted_through_customers("销售一部", clearance)
    assert _head_report(client) == again == (3, 2, {"queued": 3})


def _migrated_copy(tmp_path, sqlite_template):
    """An app on a copy of the migrated SQLite template, with the role users; and its migrations folder."""
    from archive_app import create_app

    shutil.copy(sqlite_template, tmp_path / "old.db")
    app = create_app({"SECRET_KEY": "s", "AUDIT_KEY": "k", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/old.db",
                      "DATA_DIR": str(tmp_path), "STORAGE_BACKEND": "fs", "STORAGE_DIR": str(tmp_path / "blobs")})
    create_users(app)
    return app, app.extensions["migrate"].directory


def test_migration_0022_gives_the_records_of_before_their_customers_department(tmp_path, sqlite_template):
    """Records made before the column get their customer's department when the migration adds it."""
    from flask_migrate import downgrade, upgrade

    app, migrations = _migrated_copy(tmp_path, sqlite_template)
    try:
        with app.app_context():
            owners = {"甲方": "销售一部", "乙方": "销售二部", "丙方": "销售一部"}
            ids = {}
            for n, (name, department) in enumerate(owners.items(), start=1):
                c = make_customer(name=name, department=department)
                db.session.add(Record(customer_id=c.id, department_id=None, part=1, item_no=1, title="温馨卡",
                                      archival_code=f"0001-B-{n:07d}-1-0001", record_type="温馨卡", year=2026,
                                      retention_code="D10", created_by_id=acting("archivist").id))
                ids[name] = c.id
            db.session.commit()
            db.session.remove()
            downgrade(directory=migrations, revision="0021")
            with db.engine.connect() as conn:
                assert "department_id" not in {c["name"] for c in sa.inspect(conn).get_columns("records")}
            upgrade(directory=migrations)
            got = dict(db.session.execute(select(Record.customer_id, Record.department_id)).all())
            assert got == {ids[name]: _department(department) for name, department in owners.items()}
            assert _out_of_step() == []
    finally:
        with app.app_context():
            db.engine.dispose()


# Monday 2026-11-30, 10:00 in Asia/Shanghai: the reports' default 12 weeks end this week.
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
TODAY = date(2026, 11, 30)


def _carried_out_of_step() -> list[tuple[str, int]]:
    """Grade changes and follow-ups whose department is not their customer's (none, ever)."""
    return [(model.__tablename__, row_id) for model in (GradeChange, FollowUp)
            for row_id in db.session.scalars(select(model.id).join(Customer, Customer.id == model.customer_id)
                                             .where(model.department_id.is_distinct_from(Customer.department_id)))]


def _sales_counted_through_customers(department: str) -> tuple[int, int, int]:
    """(downgrades since 2026-11-01, open follow-ups overdue today, follow-ups made since 2026-11-01) of the
    customers of ``department``, reached through the customers."""
    mine = Customer.department_id == _department(department)
    down = db.session.scalar(select(func.count()).select_from(GradeChange).join(Customer)
                             .where(mine, GradeChange.changed_on >= date(2026, 11, 1), GradeChange.reason != ""))
    overdue = db.session.scalar(select(func.count()).select_from(FollowUp).join(Customer)
                                .where(mine, FollowUp.done_on.is_(None), FollowUp.due_on < TODAY))
    made = db.session.scalar(select(func.count()).select_from(FollowUp).join(Customer)
                             .where(mine, FollowUp.done_on >= date(2026, 11, 1)))
    return down, overdue, made


def _head_sales(app, client) -> tuple[int, int, int]:
    """The same three as the head's 客户等级周报 and 回访 reports count them (their 12 weeks), checked against
    the landing page's overdue tile."""
    grades = client.get("/api/v1/reports/grades").json
    follow = client.get("/api/v1/reports/follow-ups").json
    assert grades["scope"] == follow["scope"] == "销售一部"
    weeks = {t["key"]: t for t in grades["tables"]}["weeks"]
    consultants = {t["key"]: t for t in follow["tables"]}["consultants"]
    down = sum(r[-1] for r in weeks["rows"])
    assert down == len({t["key"]: t for t in grades["tables"]}["downgrades"]["rows"])
    overdue, made = sum(r[1] for r in consultants["rows"]), sum(r[4] for r in consultants["rows"])
    assert client.get("/dashboard").status_code == 200
    with app.app_context():
        board = dashboard.dashboard_for(db.session, acting("head"), today=TODAY, tz="Asia/Shanghai")
    tiles = {t.label: t.count for section in board.sections for t in section.tiles}
    assert tiles["逾期未回访"] == overdue, "the landing page's overdue tile counts the same"
    return down, overdue, made


def test_grade_changes_and_follow_ups_carry_their_customers_department_and_follow_a_move(app, client, users):
    app.config["CLOCK"] = lambda: NOW
    with app.app_context():
        clerk = acting("archivist")
        mine = make_customer(name="甲方", department="销售一部", consultant_id=users["staff"])
        theirs = make_customer(name="乙方", department="销售二部", consultant_id=users["staff_other"])
        for customer in (mine, theirs):
            set_grade(db.session, clerk, customer, "A", now=NOW, changed_on=date(2026, 11, 2))
            set_grade(db.session, clerk, customer, "C", reason="预算不足", now=NOW, changed_on=date(2026, 11, 16))
        db.session.commit()
        # Made on the 20th, the next one due on the 25th: one made, one overdue today.
        record_follow_up(db.session, acting("staff"), mine.id, {"way": "phone", "result": "已联系", "done_on": "2026-11-20",
                                                                "next_due_on": "2026-11-25"}, now=NOW, today=TODAY)
        db.session.commit()
        mine_id = mine.id
        carried = {model.__tablename__: set(db.session.scalars(select(model.department_id)
                                                               .where(model.customer_id == mine_id)))
                   for model in (GradeChange, FollowUp)}
        assert carried == {"grade_changes": {_department("销售一部")}, "follow_ups": {_department("销售一部")}}
        assert _carried_out_of_step() == []
        before = _sales_counted_through_customers("销售一部")
    login(client, "head")
    assert _head_sales(app, client) == before == (1, 1, 1)

    # The customer moves to 销售二部 (a direct correction): its grade changes and follow-ups go with it.
    with app.app_context():
        customers.update_customer(db.session, acting("archivist"), mine_id,
                                  {"department": "销售二部", "reason": "客户转交二部跟进"}, now=NOW)
        db.session.commit()
        assert _carried_out_of_step() == []
        for model in (GradeChange, FollowUp):
            assert set(db.session.scalars(select(model.department_id).where(model.customer_id == mine_id))) \
                == {_department("销售二部")}
        after = _sales_counted_through_customers("销售一部")
    assert _head_sales(app, client) == after == (0, 0, 0)

    # And back: counted for 销售一部 again.
    with app.app_context():
        customers.update_customer(db.session, acting("archivist"), mine_id,
                                  {"department": "销售一部", "reason": "转回一部"}, now=NOW)
        db.session.commit()
        assert _carried_out_of_step() == []
    assert _head_sales(app, client) == before


def test_migration_0024_gives_the_grade_changes_and_follow_ups_of_before_their_customers_department(
        tmp_path, sqlite_template):
    """Grade changes and follow-ups made before the column get their customer's department when 0024 adds it."""
    from flask_migrate import downgrade, upgrade

    app, migrations = _migrated_copy(tmp_path, sqlite_template)
    try:
        with app.app_context():
            owners = {"甲方": "销售一部", "乙方": "销售二部", "丙方": "销售一部"}
            ids = {}
            for name, department in owners.items():
                c = make_customer(name=name, department=department)
                set_grade(db.session, acting("archivist"), c, "B", now=NOW, changed_on=TODAY)
                db.session.add(FollowUp(customer_id=c.id, department_id=None, due_on=TODAY))
                ids[name] = c.id
            db.session.commit()
            db.session.remove()
            downgrade(directory=migrations, revision="0023")
            with db.engine.connect() as conn:
                for table in ("grade_changes", "follow_ups"):
                    assert "department_id" not in {c["name"] for c in sa.inspect(conn).get_columns(table)}
            upgrade(directory=migrations)
            want = {ids[name]: _department(department) for name, department in owners.items()}
            for model in (GradeChange, FollowUp):
                assert dict(db.session.execute(select(model.customer_id, model.department_id)).all()) == want
            assert _carried_out_of_step() == []
    finally:
        with app.app_context():
            db.engine.dispose()
