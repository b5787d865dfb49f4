"""Factories: users of any role, customers and records, made through the app's own services
(accounts.create_user, customers.create_customer, records.create_record and review_record: no mocks,
no hand-built rows), so that a test reads as the rule it checks:

    with app.app_context():
        clerk = make_user("staff", department="销售一部", clearance=1)
        c = make_customer(department="销售一部")
        secret = make_record(c, secrecy=2)           # uploaded by an archivist, filed by a reviewer
        draft = make_record(c, filed=False)

Call them inside ``with app.app_context():``; they use ``db.session`` and commit. ``by=`` names the
acting user: a username (such as the ``users`` fixture's "archivist", "staff_other") or a User. When
no user of that name exists and the name is a role, one is created with that role and name.
"""
from __future__ import annotations

import io
import itertools
from typing import Any

from sqlalchemy import select

from archive_app.accounts import users as accounts
from archive_app.accounts.models import User
from archive_app.extensions import db
from archive_app.intake import customers, records
from archive_app.intake.models import Customer, Record

from .conftest import PASSWORD, _password_hash
from .generated import pdfs

_seq = itertools.count(1)

# Departments the role users of the ``users`` fixture belong to.
ROLE_DEPARTMENT = {"archivist": "档案室", "reviewer": "档案室", "staff": "销售一部", "dept_head": "销售一部"}


def user(username: str) -> User:
    """The user with this username, e.g. one of the ``users`` fixture's ("archivist", "staff_other")."""
    found = db.session.scalar(select(User).where(User.username == username))
    assert found is not None, f"no user {username!r} (use the users fixture or make_user)"
    return found


def make_user(role: str, *, department: str | None = None, clearance: int | None = None,
              username: str | None = None) -> User:
    """A user of ``role`` (archivist, reviewer, staff, dept_head, general_manager, auditor, admin)
    who logs in with tests.conftest.PASSWORD; clearance defaults to the role's."""
    username = username or f"{role}-{next(_seq)}"
    u = accounts.create_user(db.session, username=username, password=PASSWORD, role=role, display_name=username,
                             department=department, clearance=clearance, password_hash=_password_hash())
    db.session.commit()
    return u


def acting(by: User | str) -> User:
    """``by`` as a User: itself, the user of that name, or a new user whose role is that name."""
    if isinstance(by, User):
        return by
    found = db.session.scalar(select(User).where(User.username == by))
    if found is not None:
        return found
    return make_user(by, username=by, department=ROLE_DEPARTMENT.get(by))


def make_customer(*, by: User | str = "archivist", name: str = "王小明", department: str = "销售一部",
                  **fields: Any) -> Customer:
    """A customer file opened by ``by`` (fields as the API takes them: phones, id_number, project, ...)."""
    customer = customers.create_customer(db.session, acting(by), {"name": name, "department": department, **fields})
    db.session.commit()
    return customer


def make_record(customer: Customer, *, by: User | str = "archivist", record_type: str = "购房合同",
                secrecy: int = 1, files: list[tuple[bytes, str]] | None = None, filed: bool = True,
                reviewer: User | str = "reviewer", **fields: Any) -> Record:
    """A record of ``customer`` uploaded by ``by`` with ``files`` (default: one text-layer PDF, unique
    bytes) and, when ``filed``, checked and filed by ``reviewer``. Its text extraction is queued, as
    after any upload. Fields as the API takes them: title, doc_date, part, location_room, ..."""
    files = files or [(pdfs.text_pdf(marker=f"record {next(_seq)}"), "scan.pdf")]
    incoming = [records.IncomingFile(filename=name, stream=io.BytesIO(data)) for data, name in files]
    from archive_app.wiring import archive_settings, get_store, now

    record = records.create_record(db.session, get_store(), archive_settings(),
                                   acting(by), customer.id,
                                   {"record_type": record_type, "secrecy": secrecy, **fields}, incoming, now=now())
    if filed:
        records.review_record(db.session, acting(reviewer), record.id, now=now())
    db.session.commit()
    return record
