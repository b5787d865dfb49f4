"""The PostgreSQL backend scores a page of matches two ways, chosen by their number when the
statement runs (``postgres_backend._scored``): from each match's own keys, or from the sets of ids
each score question gives (a question whose set is too large asked of each match's keys instead).
All must give the same pages, scores and totals: here every query is asked of one index with the
row way forced (threshold above any total), the set way forced (threshold 0) with every set read
whole, and the set way with every set cut, over the quality corpus (records, pages, the OCR'd
page)."""
from __future__ import annotations

import pytest

from search_index import Access, SearchRequest
from search_index.analysis import pinyin_keys
from search_index.postgres_backend import PostgresSearchIndex

from .conftest import build_index, drop_schema

ALL = Access(max_secrecy=3, department_ids=None)
SOME = Access(max_secrecy=1, department_ids=frozenset({1, 2}))


def _queries(recs) -> list[SearchRequest]:
    reqs = [SearchRequest(text=t) for t in ("客户", "合同", "0001-2024", "00012024", "HT-2024", "购房 客户",
                                              "档案管理", "zs", "w", "1234")]
    reqs.append(SearchRequest(text="客户", record_type=recs[0][0].record_type, year_from=2020, year_to=2026))
    reqs.append(SearchRequest(text="客户", page=2, per_page=5))
    for doc, c in recs[:12:3]:
        py = sorted(pinyin_keys(c.name), key=len)
        reqs += [SearchRequest(text=c.name), SearchRequest(text=c.name[-2:]), SearchRequest(text=py[0]),
                 SearchRequest(text=c.phones[0][-4:]), SearchRequest(text=doc.archival_code[:9]),
                 SearchRequest(text=f"{c.project} {c.unit.split('栋')[0]}栋"),
                 SearchRequest(text=f"{c.name[0]} {c.phones[0][-4:]}"),
                 SearchRequest(text=doc.content[5:11].strip())]
    return reqs


@pytest.fixture(scope="module")
def pg_index(request, tmp_path_factory, corpus):
    ix, engine = build_index(tmp_path_factory.mktemp("pgscore") / "ix", corpus, "postgres", request)
    yield engine
    ix.close()
    drop_schema(engine)


def _answer(ix: PostgresSearchIndex, req: SearchRequest, access: Access):
    res = ix.search(req, access)
    return res.total, [(h.record_id, round(h.score, 6), h.snippet) for h in res.hits]


def test_row_and_set_scoring_give_the_same_pages(pg_index, corpus):
    recs = corpus[0]
    by_row = PostgresSearchIndex.on_engine(pg_index, row_scored_matches=10**9)
    by_set = PostgresSearchIndex.on_engine(pg_index, row_scored_matches=0, set_factor=10**6)
    by_cut_set = PostgresSearchIndex.on_engine(pg_index, row_scored_matches=0, set_factor=0)
    seen_many = 0
    for req in _queries(recs):
        for access in (ALL, SOME):
            a, b, c = (_answer(ix, req, access) for ix in (by_row, by_set, by_cut_set))
            assert a == b, (req, access)
            assert a == c, (req, access)
            seen_many += a[0] >= 20
    # the comparison covered pages of many matches, where the order among equal scores counts
    assert seen_many >= 10
