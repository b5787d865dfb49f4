"""The bulk writer's fast paths (search_index.fastwrite) write what Whoosh's own writer writes:
the same terms with the same postings, field by field, in segments any Whoosh reader reads."""
from __future__ import annotations

import pytest

from bench.corpus import iter_records
from search_index import SearchIndex, fastwrite

from ..generated import texts
from .conftest import blank_doc


def _postings(ix: SearchIndex) -> dict[tuple[str, bytes], list[tuple[str, float]]]:
    """(field, term) -> [(record id, weight)] over every segment, in record-id order."""
    out: dict = {}
    s = ix._searcher()
    for sub, _offset in s.leaf_searchers():
        r = sub.reader()
        rid = {d: int(sub.stored_fields(d)["rid"]) for d in r.all_doc_ids()}
        for fieldname, tbytes in r.all_terms():
            if fieldname == "rid":
                continue
            m = r.postings(fieldname, tbytes)
            got = out.setdefault((fieldname, tbytes), [])
            while m.is_active():
                got.append((rid[m.id()], round(m.weight(), 4)))
                m.next()
    return {k: sorted(v) for k, v in out.items()}


@pytest.fixture(scope="module")
def docs():
    recs = [d for d, _ in iter_records(400, seed=7, chars=300, sentences=texts.record_sentences())]
    # one bigram in every document (several posting blocks), Latin words next to bigrams that
    # sort before (digits) and after (Han) them, a value without any bigram
    recs[0].content += " abc 12 甲乙 zzz"
    recs[1].content = "x"
    recs[2].content = ""
    for d in recs:
        d.content += " 档案"
    return recs + [blank_doc(10_000, "ABC 123 丙丁 丙")]


def test_bulk_writer_writes_what_whoosh_writes(tmp_path, docs, monkeypatch):
    plain = SearchIndex.open(tmp_path / "plain")
    plain.add_or_update(docs)  # Whoosh's writer and its posting pool
    # the fast pool; small blocks and windows so that joining and splitting are exercised
    monkeypatch.setattr(fastwrite.PairBuffer, "BLOCK", 3_000)
    monkeypatch.setattr(fastwrite.PairBuffer, "WINDOW", 700)
    fast = SearchIndex.open(tmp_path / "fast")
    with fast.bulk_writer(commit_every=150) as bw:  # three segments
        bw.add(docs)
    a, b = _postings(plain), _postings(fast)
    assert len(a) > 10_000
    assert a.keys() == b.keys()
    diff = [k for k in a if a[k] != b[k]]
    assert not diff, diff[:5]
    # a term spanning several posting blocks, read back whole through Whoosh's own matcher
    assert len(b[("all", "档案".encode())]) == len(docs) - 1
    plain.close()
    fast.close()


def test_fast_pool_feeds_merges_in_order(tmp_path, docs):
    """A bulk writer that must merge (optimize) reads the pool back through iter_postings."""
    ix = SearchIndex.open(tmp_path / "ix")
    with ix.bulk_writer(commit_every=200, optimize=True) as bw:
        bw.add(docs)
    assert len(ix._searcher().leaf_searchers()) == 1
    plain = SearchIndex.open(tmp_path / "plain")
    plain.add_or_update(docs)
    assert _postings(ix) == _postings(plain)
    ix.close()
    plain.close()


def test_bulk_segments_carry_plain_lists_equal_to_their_postings(tmp_path, docs):
    from search_index import idlists

    ix = SearchIndex.open(tmp_path / "ix")
    with ix.bulk_writer(commit_every=250) as bw:  # two bulk segments
        bw.add(docs)
    s = ix._searcher()
    with_lists = 0
    for sub, _offset in s.leaf_searchers():
        r = sub.reader()
        lists = idlists.open_lists(r, "all")
        assert lists is not None
        with_lists += 1
        bigrams = 0
        for fieldname, tbytes in r.all_terms():
            if fieldname != "all":
                continue
            got = lists.get(tbytes)
            if idlists.term_key(tbytes) is None:  # Latin words: Whoosh's postings only
                assert got is None
                continue
            bigrams += 1
            assert got.tolist() == list(r.postings("all", tbytes).all_ids()), tbytes
        assert bigrams > 1000 and len(lists.keys) == bigrams
        assert lists.get("齉龘".encode()).tolist() == []
        lists.close()
    assert with_lists == 2
    # a segment Whoosh writes itself (an update; it may merge the small bulk ones) has none
    ix.add_or_update(docs[:3])
    leaves = [sub.reader() for sub, _ in ix._searcher().leaf_searchers()]
    assert any(idlists.open_lists(r, "all") is None for r in leaves)
    ix.close()


def test_damaged_lists_are_refused(tmp_path):
    from search_index import idlists

    f = tmp_path / "x.all.ids"
    f.write_bytes(b"\0" * 40)
    with pytest.raises(ValueError):
        idlists.IdLists(str(f))


def test_packed_keys_are_the_bigrams():
    """The bulk writer's numpy keys of a value are its bigrams (analysis.bigrams), packed."""
    from search_index import idlists
    from search_index.schema import Analysed

    for value in ("阳光花园3栋2单元|客户 abc 档案，管理", "房地產|客戶檔案", "x", "", "甲|乙丙", "12"):
        a = Analysed(value)
        assert [idlists.key_term(k) for k in a.keys().tolist()] == \
            sorted(g.encode("utf-8") for g in a.grams), value
