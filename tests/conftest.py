"""Fixtures: the app over two stacks (SQLite + file store, PostgreSQL + S3 server), clients, users.

Like Flask-Security's datastore fixtures, ``app`` is parametrized so every app-level test runs on
both stacks in one pytest run. PostgreSQL is required: if it is unreachable the tests fail (CI
must never skip them).
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import sqlalchemy as sa

from archive_app import create_app
from archive_app.commands import upgrade_database
from archive_app.extensions import db
from archive_app.replica_reads import TABLES as REPLICA_TABLES
from search_index.postgres_backend import TABLES as SEARCH_TABLES

pytest_plugins = ["tests.s3server", "tests.tcpproxy"]

PG_BASE_URL = os.environ.get("ARCHIVE_TEST_PG_URL", "postgresql+pg8000://postgres@127.0.0.1:5432/test")
ACCEPTANCE = Path(__file__).resolve().parent / "acceptance"
PASSWORD = "correct-horse-9"
REDIS_URL = os.environ.get("ARCHIVE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    """tests/acceptance (checks against the real files beside the repository) is collected only when named on
    the command line, as ./scripts/test-acceptance does: the README's test command needs nothing
    outside the repository."""
    if collection_path == ACCEPTANCE and not _named_on_command_line(config, ACCEPTANCE):
        return True
    return None


def _named_on_command_line(config, folder: Path) -> bool:
    for arg in config.args:
        path = (config.invocation_params.dir / arg.split("::")[0]).resolve()
        if path == folder or folder in path.parents:
            return True
    return False


def _with_db(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this session, migrated to head; dropped at the end."""
    name = f"archive_test_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = _with_db(PG_BASE_URL, name)
    app = create_app({"SECRET_KEY": "t", "AUDIT_KEY": "t", "SQLALCHEMY_DATABASE_URI": url, "DATA_DIR": "/tmp",
                      "STORAGE_BACKEND": "fs", "STORAGE_DIR": "/tmp/archive-test-unused"})
    with app.app_context():
        upgrade_database()
        db.engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file; each test gets a copy (migrating once keeps the suite fast)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "archive.db"
    app = create_app({"SECRET_KEY": "t", "AUDIT_KEY": "t", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
                      "DATA_DIR": str(path.parent), "STORAGE_BACKEND": "fs", "STORAGE_DIR": str(path.parent / "b")})
    with app.app_context():
        upgrade_database()
        db.engine.dispose()
    return path


def _truncate_all(app) -> None:
    with app.app_context():
        names = ", ".join([f'"{t.name}"' for t in db.metadata.sorted_tables] + list(SEARCH_TABLES + REPLICA_TABLES))
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
            conn.exec_driver_sql("INSERT INTO audit_head (id, seq, last_hash) VALUES (1, 0, '" + "0" * 64 + "')")
        db.engine.dispose()


STACKS = ["sqlite-fs", "postgresql-s3"]
#: The stacks searching with Whoosh, for tests of the index folder itself.
WHOOSH_STACKS = ["sqlite-fs", "postgresql-s3+whoosh"]
#: The PostgreSQL stack on its other search backend (the default there is postgres): added by
#: modules that set ``OTHER_SEARCH_BACKEND = True`` (the search tests), so both backends pass them.
OTHER_SEARCH_STACK = "postgresql-s3+whoosh"


def pytest_generate_tests(metafunc) -> None:
    """Every test using ``app`` runs on each stack; search modules also on the other backend."""
    own = any("app" in str(m.args[0]) for m in metafunc.definition.iter_markers("parametrize"))
    if "app" in metafunc.fixturenames and not own:
        stacks = STACKS + [OTHER_SEARCH_STACK] if getattr(metafunc.module, "OTHER_SEARCH_BACKEND", False) \
            else STACKS
        metafunc.parametrize("app", stacks, indirect=True)


def make_app(stack: str, tmp_path: Path, request, extra: dict[str, Any] | None = None):
    """Build an app on the named stack (``stack+backend``: with that search backend) with a clean
    database and an empty store."""
    stack, _, search_backend = stack.partition("+")
    config: dict[str, Any] = {"SECRET_KEY": "test-secret", "AUDIT_KEY": "test-audit-key", "TESTING": True,
                              "WTF_CSRF_ENABLED": False,
                              "DATA_DIR": str(tmp_path / "data"), "FONDS_CODE": "0001"}
    if stack.startswith("sqlite"):
        db_path = tmp_path / "archive.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), db_path)
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{db_path}"
    else:
        config["SQLALCHEMY_DATABASE_URI"] = request.getfixturevalue("pg_url")
        # The PostgreSQL stack also runs its background jobs through Redis (127.0.0.1:6379).
        config.update({"QUEUE_BACKEND": "redis", "REDIS_URL": REDIS_URL, "QUEUE_NAME": f"test-{uuid.uuid4().hex[:8]}"})
    if stack.endswith("s3"):
        config.update(request.getfixturevalue("s3_settings"))
    else:
        config.update({"STORAGE_BACKEND": "fs", "STORAGE_DIR": str(tmp_path / "blobs")})
    if search_backend:
        config["SEARCH_BACKEND"] = search_backend
    config.update(extra or {})
    return create_app(config)


@pytest.fixture
def app(request, tmp_path):
    """The application on each stack in turn (parametrized by pytest_generate_tests)."""
    application = make_app(request.param, tmp_path, request)
    application.config["STACK"] = request.param
    yield application
    _cleanup(application)


def _cleanup(application) -> None:
    index = application.extensions.pop("search_index", None)
    if index is not None:
        index.close()  # closes every thread's searcher and its open segment files
    with application.app_context():
        db.session.remove()
        db.engine.dispose()
    application.extensions["queue"].flush()
    if application.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        _truncate_all(application)


@pytest.fixture
def store(app):
    """The app's blob store."""
    return app.extensions["blob_store"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@functools.cache
def _password_hash() -> str:
    from archive_app.accounts.users import hash_password

    return hash_password(PASSWORD)  # argon2 costs ~0.1 s: hash once per session


def create_users(app) -> dict[str, int]:
    """One user per role; staff in two departments, with different clearances."""
    from archive_app.accounts import users as accounts

    spec = {
        "admin": ("admin", None, None), "archivist": ("archivist", "档案室", None),
        "archivist2": ("archivist", "档案室", None), "reviewer": ("reviewer", "档案室", None),
        "staff": ("staff", "销售一部", 1), "staff_secret": ("staff", "销售一部", 2),
        "staff_other": ("staff", "销售二部", 3), "head": ("dept_head", "销售一部", None),
        "gm": ("general_manager", None, None), "auditor": ("auditor", None, None),
    }
    out = {}
    hashed = _password_hash()
    with app.app_context():
        for username, (role, dept, clearance) in spec.items():
            u = accounts.create_user(db.session, username=username, password=PASSWORD, role=role,
                                     display_name=username, department=dept, clearance=clearance,
                                     password_hash=hashed)
            out[username] = u.id
        db.session.commit()
    return out


@pytest.fixture
def users(app) -> dict[str, int]:
    """The role users in the current app."""
    return create_users(app)


@pytest.fixture
def users_factory(request):
    """Create the role users in an app a test built itself; its PostgreSQL rows are cleaned after."""
    built = []

    def factory(application):
        built.append(application)
        return create_users(application)

    yield factory
    for application in built:
        _cleanup(application)


class AuthActions:
    """Log a test client in and out through the real login form."""

    def __init__(self, client):
        self._client = client

    def login(self, username: str, password: str = PASSWORD):
        return self._client.post("/login", data={"username": username, "password": password})

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


def csrf_from(html: str) -> str:
    """The CSRF token embedded in a rendered form."""
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

