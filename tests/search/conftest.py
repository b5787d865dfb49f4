"""Fixtures of the search-index tests: no Flask app, only search_index and the shared seeds."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from bench.corpus import SEEDS, iter_records
from search_index import IndexDoc, SearchIndex

# What RapidOCR reads from ../shared/testdata/cnocr/multi-line_cn2.png (spaces inside words).
OCR_TEXT = ("当然，在 在媒介越来越多的情形下， 意味着传播方式的变化。过去主流 的是大众传播，现在互动性和定制 "
            "性带来了新的挑战 一一如何让品牌")

SEED_BASE_ID = 900_000
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


def seed_docs() -> list[IndexDoc]:
    docs = []
    for i, f in enumerate(sorted(SEEDS.glob("*.txt"))):
        text = f.read_text(encoding="utf-8")
        docs.append(blank_doc(SEED_BASE_ID + i, text, title=text.splitlines()[0][:40]))
    return docs


@pytest.fixture(scope="session")
def corpus():
    """(synthetic records with their customers, seed docs, OCR doc)."""
    recs = list(iter_records(300, seed=4242, chars=200))
    return recs, seed_docs(), blank_doc(OCR_ID, OCR_TEXT, title="扫描件", department_id=2)


@pytest.fixture(scope="session")
def quality_index(tmp_path_factory, corpus) -> SearchIndex:
    recs, seeds, ocr = corpus
    ix = SearchIndex.open(tmp_path_factory.mktemp("quality") / "ix")
    with ix.bulk_writer() as bw:
        bw.add([d for d, _ in recs] + seeds + [ocr])
    yield ix
    ix.close()


@pytest.fixture
def small_index(tmp_path: Path) -> SearchIndex:
    ix = SearchIndex.open(tmp_path / "ix")
    yield ix
    ix.close()
