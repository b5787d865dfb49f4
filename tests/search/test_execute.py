"""The set-at-a-time executor gives what Whoosh's own collector gives: the same totals, the same
pages (score, then document number; date, then document number), across segments and deletions."""
from __future__ import annotations

import pytest
from whoosh import query as wq
from whoosh.sorting import FieldFacet

from bench.corpus import iter_records
from search_index import Access, SearchIndex, SearchRequest
from search_index.planning import Boosted, Verified, filter_query, permission_query, plan_text
from search_index.schema import encode_check, holds

from ..generated import texts
from .reference_matchers import reference

ACCESS = Access(max_secrecy=2, department_ids=frozenset({1, 2, 3, 4}))


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    """Three segments, with a few deleted and replaced documents."""
    ix = SearchIndex.open(tmp_path_factory.mktemp("exec") / "ix")
    docs = [d for d, _ in iter_records(600, seed=99, chars=200, sentences=texts.record_sentences())]
    for start in (0, 250, 450):
        with ix.bulk_writer() as bw:
            bw.add(docs[start:{0: 250, 250: 450, 450: 600}[start]])
    ix.delete([3, 77, 300])
    ix.add_or_update([docs[10], docs[500]])
    yield ix, docs
    ix.close()


def _whoosh_search(ix: SearchIndex, req: SearchRequest, access: Access, limit: int):
    """The page and total through Whoosh's collector (the reference implementation)."""
    s = ix._searcher()
    allowed = set(s.docs_for_query(permission_query(access)))
    plan = plan_text(req.text)
    parts = [q for q in (plan.query, filter_query(req)) if q is not None]
    q = wq.And(parts) if len(parts) > 1 else (parts[0] if parts else wq.Every())
    if plan.verify:
        q = Verified(q, plan.verify)
    kwargs = {}
    if req.sort == "date":
        kwargs["sortedby"] = FieldFacet("sort_date", reverse=True)
    elif plan.boost is not None:
        q = Boosted(q, plan.boost)
    collector = s.collector(limit=limit, filter=allowed, terms=False, optimize=False, **kwargs)
    s.search_with_collector(reference(q), collector)
    results = collector.results()
    ids = [int(s.stored_fields(d)["rid"]) for _, d in results.top_n[:limit]]
    return len(results), ids


def _queries(docs):
    d = docs[42]
    name = d.customer_name
    yield SearchRequest(text=name[-2:])
    yield SearchRequest(text=name)
    yield SearchRequest(text="客户")
    yield SearchRequest(text="客户", record_type=d.record_type, year_from=d.year - 1, year_to=d.year)
    yield SearchRequest(text=d.phones[0][-4:])
    yield SearchRequest(text=d.phones[0])
    yield SearchRequest(text=d.address[-6:])
    yield SearchRequest(text=f"{d.project} 3栋")
    yield SearchRequest(text=f"{name[0]} {d.phones[0][-4:]}")
    yield SearchRequest(text="zh")
    yield SearchRequest(text=name[0])
    yield SearchRequest(text=d.archival_code[:14])
    yield SearchRequest(text=d.content.split("\n")[-1][5:12])
    yield SearchRequest(customer_id=d.customer_id, sort="date")
    yield SearchRequest(text="客户", sort="date", year_from=2018)
    yield SearchRequest(text="")
    yield SearchRequest(text="齉龘")
    yield SearchRequest(text=d.phones[0][-7:])  # a tail: phones and the text's numbers
    yield SearchRequest(text=d.archival_code[:9])  # 全宗号-年度
    yield SearchRequest(text=d.customer_no[:5])  # a 客户号 prefix
    yield SearchRequest(text=f"{name} {d.archival_code[:9]}")


def test_executor_agrees_with_whoosh_collector(index):
    ix, docs = index
    for req in _queries(docs):
        req.per_page = 50
        total, ids = _whoosh_search(ix, req, ACCESS, 50)
        res = ix.search(req, ACCESS)
        assert res.total == total, req
        got = [h.record_id for h in res.hits]
        if req.sort == "date" or not ids:
            assert got == ids, req
        else:  # equal scores may differ in the last bit (summed in another order): same set
            assert set(got) == set(ids) or got[:10] == ids[:10], req


def test_deleted_documents_never_match(index):
    ix, docs = index
    gone = docs[77 - 1]
    for req in (SearchRequest(text=gone.archival_code), SearchRequest(text=gone.phones[0])):
        assert 77 not in {h.record_id for h in ix.search(req, Access(3, None)).hits}


def test_utf16_check_is_aligned_to_characters():
    # "乙丙" encodes to bytes that also occur straddling "甲乙" / "丙丁" code units only if
    # aligned wrongly: holds() accepts even offsets only
    value = "ab甲乙丙".encode("utf-16-le")
    assert holds(value, encode_check("乙丙"))
    assert not holds(value, encode_check("丙乙"))
    odd = b"\x00" + "乙丙".encode("utf-16-le")  # the check's bytes at an odd offset only
    assert not holds(odd, encode_check("乙丙"))
    assert holds("x𠀀y".encode("utf-16-le"), encode_check("𠀀y"))  # beyond the BMP
