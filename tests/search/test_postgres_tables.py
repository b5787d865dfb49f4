"""The PostgreSQL search tables as migrated: wide values compressed with lz4 (migration 0027: rows
written before it are written again, new rows get lz4 from the columns' setting), the filters'
index carrying the permission columns (0028), and each record's 档号 prefix in a btree (0029: rows
written before it get theirs from their keys)."""
from __future__ import annotations

import uuid

import sqlalchemy as sa

from archive_app import create_app
from archive_app.commands import upgrade_database
from archive_app.extensions import db
from search_index import Access, SearchRequest
from search_index.analysis import archival_code_keys
from search_index.postgres_backend import PostgresSearchIndex, code_columns

from ..conftest import PG_BASE_URL, _with_db
from .conftest import blank_doc

WIDE = ("keys", "skeys", "runs", "content")
CODE = "合同编号 HT-2024-0012。"
T_KEYS = "ARRAY(SELECT x FROM unnest({col}) x WHERE left(x, 1) = 't')"
OTHER_KEYS = "ARRAY(SELECT x FROM unnest({col}) x WHERE left(x, 1) <> 't')"
# long enough that every wide value is compressed (a short one is stored as it is)
TEXT = "买受人应当按照本合同约定的时间和方式支付房款，出卖人应当按期交付房屋。" * 40


def _methods(engine: sa.Engine) -> set[str | None]:
    with engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT " + ", ".join(f"pg_column_compression({c})" for c in WIDE)
                                   + " FROM search_records").all()
    return {m for r in row for m in r}


def test_migration_0027_compresses_the_search_rows_with_lz4():
    from flask_migrate import downgrade, upgrade

    name = f"archive_test_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = _with_db(PG_BASE_URL, name)
    app = create_app({"SECRET_KEY": "t", "AUDIT_KEY": "t", "SQLALCHEMY_DATABASE_URI": url, "DATA_DIR": "/tmp",
                      "STORAGE_BACKEND": "fs", "STORAGE_DIR": "/tmp/archive-test-unused"})
    engine = sa.create_engine(url)
    try:
        with app.app_context():
            upgrade_database()
            migrations = app.extensions["migrate"].directory
            downgrade(directory=migrations, revision="0026")
            db.engine.dispose()
            with engine.begin() as conn:  # for this writer only: 0029's columns, dropped below
                conn.exec_driver_sql("ALTER TABLE search_records ADD COLUMN code_prefix text, "
                                     "ADD COLUMN code_cuts smallint[]")
            PostgresSearchIndex.on_engine(engine).add_or_update(
                [blank_doc(1, TEXT + CODE, customer_name="唐明"), blank_doc(2, TEXT[:30], archival_code=None)])
            with engine.begin() as conn:  # the layout before: the codes printed in the text in ``keys``
                conn.exec_driver_sql("ALTER TABLE search_records DROP COLUMN code_prefix, DROP COLUMN code_cuts")
                conn.exec_driver_sql(f"UPDATE search_records SET keys = keys || {T_KEYS.format(col='fkeys')}, "
                                     f"fkeys = {OTHER_KEYS.format(col='fkeys')}")
            assert _methods(engine) == {"pglz", None}  # pglz leaves a short value as it is
            upgrade(directory=migrations)
            db.engine.dispose()
        assert _methods(engine) == {"lz4", None}
        with engine.connect() as conn:
            moved = conn.exec_driver_sql(f"SELECT {T_KEYS.format(col='keys')}, {T_KEYS.format(col='fkeys')} "
                                         "FROM search_records WHERE record_id = 1").one()
        assert moved[0] == [] and "t0012" in moved[1]
        with engine.connect() as conn:  # 0029: the 档号 prefix columns as the writer makes them
            codes = {r[0]: (r[1], r[2]) for r in conn.exec_driver_sql(
                "SELECT record_id, code_prefix, code_cuts FROM search_records")}
            assert codes[1] == code_columns(archival_code_keys("0001-2024-D30-S1-1-0001"))
            assert codes[1][0] == "00012024d30s11"
            assert codes[2] == (None, [])
        with engine.connect() as conn:  # written anew: no row's old version was kept
            places = set(conn.exec_driver_sql("SELECT ctid::text FROM search_records").scalars())
        assert places == {"(0,1)", "(0,2)"}
        ix = PostgresSearchIndex.on_engine(engine)
        ix.add_or_update([blank_doc(3, TEXT[5:])])
        with engine.connect() as conn:
            new = conn.exec_driver_sql("SELECT " + ", ".join(f"pg_column_compression({c})" for c in WIDE)
                                       + " FROM search_records WHERE record_id = 3").one()
        assert set(new) == {"lz4"}
        # the GIN indexes were built again: the rows are found by their keys and exact text
        everyone = Access(max_secrecy=3, department_ids=None)
        found = ix.search(SearchRequest(text="出卖人应当按期交付"), everyone)
        assert sorted(h.record_id for h in found.hits) == [1, 3]
        assert sorted(h.record_id for h in ix.search(SearchRequest(text="0001-2024"), everyone).hits) == [1, 3]
        for code in ("HT-2024-0012", "0012", "唐 0012", "0001-2024-D30-S1", "00012024D30S1"):
            assert [h.record_id for h in ix.search(SearchRequest(text=code), everyone).hits] == [1], code
        with engine.connect() as conn:
            gin = set(conn.exec_driver_sql("SELECT indexname FROM pg_indexes WHERE tablename = 'search_records' "
                                           "AND indexdef LIKE '%gin%'").scalars())
        assert gin == {"ix_search_records_keys", "ix_search_records_fkeys"}
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_the_record_type_and_year_index_carries_the_permission_columns(pg_url):
    """A search by record type and years reads only the rows its user may see (migration 0028)."""
    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            defs = set(conn.exec_driver_sql("SELECT indexdef FROM pg_indexes WHERE tablename = 'search_records' "
                                            "AND indexdef LIKE '%record_type%'").scalars())
    finally:
        engine.dispose()
    assert {d.split(" USING ")[1] for d in defs} == {"btree (record_type, year, dept, secrecy)"}
