"""Search over the real seed pages of ../shared/seeds (Traditional and Simplified web pages about
customer archives), next to synthetic records whose bodies are made of the seed pages' sentences.
The same checks on pages written for the tests are in tests/search/test_quality.py."""
from __future__ import annotations

import pytest

from bench.corpus import iter_records
from search_index import SearchIndex

from ..search.conftest import BACKENDS, OCR_ID, OCR_TEXT, blank_doc, build_index, drop_schema, page_docs
from ..search.test_quality import ids, oracle_text, search
from .conftest import SEEDS

SEED_BASE_ID = 900_000


@pytest.fixture(scope="module")
def corpus():
    """(synthetic records with their customers, seed docs, OCR doc), as the search tests had them."""
    recs = list(iter_records(300, seed=4242, chars=200))  # bodies from the seed pages' sentences
    seeds = page_docs({SEED_BASE_ID + i: f.read_text(encoding="utf-8")
                       for i, f in enumerate(sorted(SEEDS.glob("*.txt")))})
    return recs, seeds, blank_doc(OCR_ID, OCR_TEXT, title="扫描件", department_id=2)


@pytest.fixture(scope="module", params=BACKENDS)
def seed_index(request, tmp_path_factory, corpus) -> SearchIndex:
    """The seed corpus in each search backend in turn (Whoosh, PostgreSQL)."""
    ix, engine = build_index(tmp_path_factory.mktemp("seeds") / "ix", corpus, request.param, request)
    yield ix
    ix.close()
    if engine is not None:
        drop_schema(engine)


def test_traditional_seed_queried_in_simplified_and_back(seed_index):
    # seed 000 is written in Traditional; query it in Simplified
    r = search(seed_index, "房地产客户档案如何建立和管理系统")
    assert SEED_BASE_ID + 0 in ids(r)
    r = search(seed_index, "楼盘客户资料(温馨卡)管理制度")
    assert SEED_BASE_ID + 4 in ids(r)
    # seed 002 is Simplified; query it in Traditional
    r = search(seed_index, "銷售管理信息系統概述")
    assert SEED_BASE_ID + 2 in ids(r)


def test_phrases_from_seed_pages(seed_index, corpus):
    cases = {
        "溫馨卡錄入統一標準": 4,
        "核心的地方是保持规范横向和纵向的一致性": 0,
        "销售数据查询与统计": 2,
        "客户关系管理": 3,
        "房地产行业客户档案管理流程设计": 1,
    }
    for text, i in cases.items():
        expected = oracle_text(corpus, text)
        assert SEED_BASE_ID + i in expected
        r = search(seed_index, text, per_page=200)
        assert r.total == len(expected), text
        top = ids(search(seed_index, text))
        assert SEED_BASE_ID + i in top or len(expected) > 10, text


def test_random_substrings_of_seed_text_match_the_oracle_exactly(seed_index, corpus):
    """Random slices of the real pages and of the records made from them: totals equal brute force."""
    from ..search import test_quality

    test_quality.test_random_substrings_match_the_oracle_exactly(seed_index, corpus)
