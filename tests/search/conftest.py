"""Fixtures of the search-index tests: no Flask app, only search_index, synthetic records and the
pages written for the tests (tests/generated/texts.py). The seed pages are searched in tests/acceptance."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from bench.corpus import iter_records
from search_index import IndexDoc, SearchIndex

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


def build_index(path: Path, corpus) -> SearchIndex:
    recs, pages, ocr = corpus
    ix = SearchIndex.open(path)
    with ix.bulk_writer() as bw:
        bw.add([d for d, _ in recs] + pages + [ocr])
    return ix


@pytest.fixture(scope="session")
def quality_index(tmp_path_factory, corpus) -> SearchIndex:
    ix = build_index(tmp_path_factory.mktemp("quality") / "ix", corpus)
    yield ix
    ix.close()


@pytest.fixture
def small_index(tmp_path: Path) -> SearchIndex:
    ix = SearchIndex.open(tmp_path / "ix")
    yield ix
    ix.close()
