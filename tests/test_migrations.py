"""Migrations build the schema from empty on both databases, and agree with the models."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import archive_app.models  # noqa: F401  (registers every table on db.metadata)
from archive_app.extensions import db


@pytest.mark.parametrize("which", ["sqlite_template", "pg_url"])
def test_models_and_migrations_agree(which, request):
    target = request.getfixturevalue(which)
    url = f"sqlite:///{target}" if which == "sqlite_template" else target
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, db.metadata)
            head = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            chain = conn.exec_driver_sql("SELECT seq, last_hash FROM audit_head").all()
    finally:
        engine.dispose()
    assert diff == [], diff
    assert head is not None
    assert chain == [(0, "0" * 64)]
