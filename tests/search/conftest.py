"""Fixtures of the search-index tests: no Flask app, only search_index, synthetic records and the
pages written for the tests (tests/generated/texts.py). The seed pages are searched in tests/acceptance.

``small_index`` and ``quality_index`` are each backend in turn: the Whoosh folder and the
PostgreSQL tables (in a schema of their own in the session's test database, so the app tests'
truncations never meet them)."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench.corpus import iter_records
from search_index import IndexDoc, SearchIndex
from search_index.postgres_backend import TABLES, PostgresSearchIndex

from ..generated import texts

# What RapidOCR read from a real scan of a Chinese paragraph (spaces inside words).
OCR_TEXT = ("当然，在 在媒介越来越多的情形下， 意味着传播方式的变化。过去主流 的是大众传播，现在互动性和定制 "
            "性带来了新的挑战 一一如何让品牌")

PAGE_IDS = {name: 900_000 + i for i, name in enumerate(texts.PAGES)}
OCR_ID = 950_000


def blank_doc(record_id: int, content: str, **kw) -> IndexDoc:
    values = dict(
        record_id=record_id, customer_id=record_id, archival_code=f"0001-2024-D30-S{record_id}-1-0001",
        customer_no=f"S{record_id}", customer_name="", customer_kind="company", phones=[],
        id_number=None, project="", unit="", address="", title="", record_type="往来函件", part=1,
        year=2024, doc_date=date(2024, 5, 1), grade=None, secrecy=0, department_id=1,
        status="filed", content=content, updated_at=datetime(2024, 5, 1, 9, 0, 0))
    values.update(kw)
    return IndexDoc(**values)


def page_docs(pages: dict[int, str]) -> list[IndexDoc]:
    """One document per page of text (record id -> text), titled by its first line."""
    return [blank_doc(rid, text, title=text.splitlines()[0][:40]) for rid, text in pages.items()]


@pytest.fixture(scope="session")
def corpus():
    """(synthetic records with their customers, page docs, OCR doc)."""
    recs = list(iter_records(300, seed=4242, chars=200, sentences=texts.record_sentences()))
    pages = page_docs({PAGE_IDS[name]: text for name, text in texts.PAGES.items()})
    return recs, pages, blank_doc(OCR_ID, OCR_TEXT, title="扫描件", department_id=2)


BACKENDS = ["whoosh", "postgres"]
_SCHEMAS: dict[sa.Engine, str] = {}


def schema_engine(pg_url: str) -> sa.Engine:
    """An engine whose connections see a fresh schema holding empty copies of the search tables
    (the migrated ones in ``public``, with their indexes)."""
    schema = f"search_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        for t in TABLES:
            conn.exec_driver_sql(f"CREATE TABLE {schema}.{t} (LIKE public.{t} INCLUDING ALL)")
    engine.dispose()
    engine = sa.create_engine(pg_url)

    @sa.event.listens_for(engine, "connect")
    def _search_path(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute(f"SET search_path TO {schema}, public")
        cur.close()
        dbapi_conn.commit()

    _SCHEMAS[engine] = schema
    return engine


def drop_schema(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {_SCHEMAS.pop(engine)} CASCADE")
    engine.dispose()


def open_index(backend: str, request, path: Path):
    """(index, engine or None) of a backend, empty."""
    if backend == "whoosh":
        return SearchIndex.open(path), None
    engine = schema_engine(request.getfixturevalue("pg_url"))
    return PostgresSearchIndex.on_engine(engine), engine


def build_index(path: Path, corpus, backend: str = "whoosh", request=None):
    recs, pages, ocr = corpus
    ix, engine = open_index(backend, request, path)
    with ix.bulk_writer() as bw:
        bw.add([d for d, _ in recs] + pages + [ocr])
    return ix, engine


@pytest.fixture(scope="session", params=BACKENDS)
def quality_index(request, tmp_path_factory, corpus):
    ix, engine = build_index(tmp_path_factory.mktemp("quality") / "ix", corpus, request.param, request)
    yield ix
    ix.close()
    if engine is not None:
        drop_schema(engine)


@pytest.fixture(params=BACKENDS)
def small_index(request, tmp_path: Path):
    ix, engine = open_index(request.param, request, tmp_path / "ix")
    yield ix
    ix.close()
    if engine is not None:
        drop_schema(engine)
