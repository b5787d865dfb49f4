"""Migrations build the schema from empty on both databases, and agree with the models."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import archive_app.models  # noqa: F401  (registers every table on db.metadata)
from archive_app.extensions import db
from archive_app.replica_reads import TABLES as REPLICA_TABLES
from search_index.postgres_backend import TABLES as SEARCH_TABLES


def _not_search_tables(name, type_, parent_names) -> bool:
    # the PostgreSQL search tables and the read replica's positions are derived data, owned by
    # search_index and replica_reads, not models
    return not (type_ == "table" and name in SEARCH_TABLES + REPLICA_TABLES)


@pytest.mark.parametrize("which", ["sqlite_template", "pg_url"])
def test_models_and_migrations_agree(which, request):
    target = request.getfixturevalue(which)
    url = f"sqlite:///{target}" if which == "sqlite_template" else target
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": _not_search_tables})
            diff = compare_metadata(ctx, db.metadata)
            head = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            chain = conn.exec_driver_sql("SELECT seq, last_hash FROM audit_head").all()
            search = set(sa.inspect(conn).get_table_names()) & set(SEARCH_TABLES + REPLICA_TABLES)
    finally:
        engine.dispose()
    assert diff == [], diff
    assert head is not None
    assert chain == [(0, "0" * 64)]
    assert search == (set(SEARCH_TABLES + REPLICA_TABLES) if which == "pg_url" else set())
