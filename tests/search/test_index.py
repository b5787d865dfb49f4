"""SearchIndex behaviour: permissions, idempotence, deletes, versions, damage, concurrency."""
from __future__ import annotations

import threading
from datetime import date

import pytest

import search_index.index as index_mod
from search_index import Access, IndexBusy, IndexDamaged, SearchIndex, SearchRequest

from .conftest import blank_doc

ALL = Access(max_secrecy=3, department_ids=None)


def docs_matrix():
    """Records over secrecy 0-3 x departments 1, 2, None; all mention 阳光花园."""
    out, rid = [], 1
    for secrecy in range(4):
        for dept in (1, 2, None):
            out.append(blank_doc(rid, f"阳光花园 第{rid}号档案 密级{secrecy}", secrecy=secrecy,
                                 department_id=dept, title=f"文件{rid}", customer_name="王小明"))
            rid += 1
    out.append(blank_doc(99, "机密项目翡翠湾收购方案", secrecy=3, department_id=2, title="收购"))
    return out


def test_permissions_are_part_of_the_query(small_index):
    small_index.add_or_update(docs_matrix())
    clerk = Access(max_secrecy=1, department_ids=frozenset({1}))
    manager = Access(max_secrecy=2, department_ids=frozenset({1, 2}))
    req = SearchRequest(text="阳光花园", per_page=1)
    r_all = small_index.search(req, ALL)
    r_clerk = small_index.search(req, clerk)
    r_mgr = small_index.search(req, manager)
    assert (r_all.total, r_clerk.total, r_mgr.total) == (12, 2, 6)
    # pages never contain a forbidden record, whatever the page
    seen = set()
    for page in range(1, 4):
        r = small_index.search(SearchRequest(text="阳光花园", per_page=1, page=page), clerk)
        seen |= {h.record_id for h in r.hits}
    assert seen == {1, 4}  # secrecy 0/1 in department 1
    # a forbidden record gives no hit, no count and no snippet
    for acc in (clerk, manager):
        r = small_index.search(SearchRequest(text="翡翠湾收购"), acc)
        assert r.total == 0 and r.hits == []
        r = small_index.search(SearchRequest(), acc)
        assert 99 not in {h.record_id for h in r.hits}
        assert all("收购" not in h.snippet for h in r.hits)
    assert small_index.search(SearchRequest(text="翡翠湾收购"), ALL).total == 1
    # records without a department are only for company-wide access
    none_dept = {3, 6, 9, 12}
    r = small_index.search(SearchRequest(text="阳光花园", per_page=50), Access(3, frozenset({1, 2})))
    assert not none_dept & {h.record_id for h in r.hits}
    assert small_index.search(SearchRequest(), Access(-1, None)).total == 0
    assert small_index.search(SearchRequest(), Access(3, frozenset())).total == 0


def test_idempotent_add_and_update(small_index):
    d = blank_doc(7, "第一版内容")
    small_index.add_or_update([d])
    small_index.add_or_update([d])
    small_index.add_or_update([d, d])
    assert small_index.doc_count() == 1
    d2 = blank_doc(7, "第二版内容")
    small_index.add_or_update([d2])
    assert small_index.doc_count() == 1
    assert small_index.search(SearchRequest(text="第一版"), ALL).total == 0
    assert small_index.search(SearchRequest(text="第二版"), ALL).total == 1


def test_delete(small_index):
    small_index.add_or_update(docs_matrix())
    assert small_index.delete([1, 2, 12345]) == 2
    r = small_index.search(SearchRequest(text="阳光花园", per_page=50), ALL)
    assert r.total == 10 and not {1, 2} & {h.record_id for h in r.hits}
    small_index.clear()
    assert small_index.doc_count() == 0


def test_filters_sort_and_pagination(small_index):
    docs = []
    for i in range(1, 31):
        docs.append(blank_doc(i, "客户档案 购房合同 阳光花园", year=2000 + i % 10, part=1 + i % 4,
                              doc_date=date(2000 + i % 10, 1 + i % 12, 1), record_type="购房合同" if i % 2
                              else "收据", status="draft" if i % 3 == 0 else "filed",
                              grade="ABCD"[i % 4], customer_id=i % 5, project="阳光花园" if i < 20 else "翡翠湾"))
    small_index.add_or_update(docs)
    q = lambda **kw: small_index.search(SearchRequest(**kw), ALL)  # noqa: E731
    assert q(text="客户", record_type="收据").total == 15
    assert q(year_from=2003, year_to=2004).total == 6
    assert q(part=2, status="filed").total == len([i for i in range(1, 31) if 1 + i % 4 == 2 and i % 3])
    assert q(grade="a").total == q(grade="A").total == 7
    assert q(customer_id=3).total == 6
    assert q(project="翡翠湾").total == 11
    assert q(secrecy=1).total == 0
    pages = [q(text="客户", per_page=7, page=p, sort="date") for p in range(1, 6)]
    got = [h.record_id for r in pages for h in r.hits]
    assert len(got) == 30 == len(set(got)) and pages[0].total == 30
    dates = {d.record_id: d.doc_date for d in docs}
    assert [dates[r] for r in got] == sorted(dates.values(), reverse=True)


def test_snippets_are_html_safe_with_marks(small_index):
    small_index.add_or_update([
        blank_doc(1, "前文<script>alert(1)</script> 客戶檔案 & 后文\f第二页", title="<b>标题</b>"),
        blank_doc(2, "", title="<i>无正文</i> 档案"),
    ])
    r = small_index.search(SearchRequest(text="客户档案"), ALL)
    snip = r.hits[0].snippet
    assert "<script>" not in snip and "&lt;script&gt;" in snip
    assert "<mark>客戶檔案</mark>" in snip  # the original (Traditional) text is shown
    assert "&amp;" in snip
    r = small_index.search(SearchRequest(text="档案"), ALL)
    snips = {h.record_id: h.snippet for h in r.hits}
    assert snips[2] == "&lt;i&gt;无正文&lt;/i&gt; <mark>档案</mark>"


def test_schema_version_change_rebuilds_empty(tmp_path, monkeypatch):
    path = tmp_path / "ix"
    ix = SearchIndex.open(path)
    ix.add_or_update([blank_doc(1, "内容")])
    assert not ix.needs_rebuild
    ix.close()
    monkeypatch.setattr(index_mod, "SCHEMA_VERSION", index_mod.SCHEMA_VERSION + 1)
    ix2 = SearchIndex.open(path)
    assert ix2.needs_rebuild and ix2.doc_count() == 0
    assert (path / "SCHEMA_VERSION").read_text().strip() == str(index_mod.SCHEMA_VERSION)
    ix2.close()
    ix3 = SearchIndex.open(path)
    assert not ix3.needs_rebuild
    ix3.close()


def test_damaged_index_is_reported_not_deleted(tmp_path):
    path = tmp_path / "ix"
    ix = SearchIndex.open(path)
    ix.add_or_update([blank_doc(i, f"第{i}份档案内容") for i in range(1, 50)])
    ix.close()
    # segments are written as separate files (no compound .seg): damage the term index
    segs = sorted(path.glob("*.trm")) + sorted(path.glob("*.seg"))
    assert segs
    before = sorted(p.name for p in path.iterdir())
    with open(segs[0], "r+b") as f:
        f.truncate(f.seek(0, 2) // 2)
    with pytest.raises(IndexDamaged):
        SearchIndex.open(path)
    assert sorted(p.name for p in path.iterdir()) == before
    for toc in path.glob("*.toc"):
        toc.unlink()
    with pytest.raises(IndexDamaged):
        SearchIndex.open(path)
    assert segs[0].exists()


def test_writer_lock_is_exclusive_and_times_out(tmp_path):
    path = tmp_path / "ix"
    a = SearchIndex.open(path)
    b = SearchIndex.open(path, lock_timeout=0.3)
    with a.bulk_writer() as bw:
        bw.add([blank_doc(1, "甲")])
        with pytest.raises(IndexBusy):
            b.add_or_update([blank_doc(2, "乙")])
    b.add_or_update([blank_doc(2, "乙")])
    assert a.doc_count() == 2
    a.close()
    b.close()


def test_bulk_writer_checkpoint(tmp_path):
    ix = SearchIndex.open(tmp_path / "ix")
    with pytest.raises(RuntimeError):
        with ix.bulk_writer(commit_every=10) as bw:
            bw.add([blank_doc(i, f"档案{i}") for i in range(1, 26)])
            raise RuntimeError("crash during reindex")
    assert ix.reindex_checkpoint() == 20
    assert ix.doc_count() == 20
    with ix.bulk_writer(commit_every=10) as bw:  # resume after the checkpoint
        bw.add([blank_doc(i, f"档案{i}") for i in range(21, 26)])
    assert ix.reindex_checkpoint() is None and ix.doc_count() == 25
    ix.close()


def test_concurrent_searches_while_writing(small_index):
    small_index.add_or_update(docs_matrix())
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader():
        try:
            while not stop.is_set():
                r = small_index.search(SearchRequest(text="阳光花园"), ALL)
                assert r.total >= 12
                small_index.search(SearchRequest(text="王小明 阳光"), Access(1, frozenset({1})))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for batch in range(10):
            small_index.add_or_update([blank_doc(1000 + batch * 5 + i, "阳光花园 新档案")
                                       for i in range(5)])
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors[:1]
    assert small_index.search(SearchRequest(text="阳光花园"), ALL).total == 62


def test_substring_is_exact_across_fields_runs_and_segments(small_index):
    """A multi-character query is an exact substring of ONE field: never across a field
    boundary, punctuation or a run gap; repeated bigrams need the right offsets."""
    small_index.add_or_update([
        blank_doc(1, "", customer_name="王伟", project="阳光花园"),   # 王伟|阳光: not 伟阳
        blank_doc(2, "哈哈哈 哈哈，哈哈"),                               # runs of 3 (spaces join Han) then 2
        blank_doc(3, "客户，档案 规范"),                                 # 客户 / 档案规范
        blank_doc(4, "一二三四五六七八九十"),
    ])
    with small_index.bulk_writer() as bw:                                  # a second segment
        bw.add([blank_doc(5, "一二三四五六七八九", title="哈哈哈哈哈")])
    small_index.delete([4])
    q = lambda t: {h.record_id for h in small_index.search(SearchRequest(text=t, per_page=50), ALL).hits}  # noqa: E731
    assert q("伟阳") == set() and q("王伟") == {1} and q("阳光花园") == {1}
    assert q("哈哈哈哈哈") == {2, 5}        # "哈哈哈 哈哈" normalises to one run of five
    assert q("哈哈哈哈哈哈") == set()
    assert q("客户档案") == set() and q("档案规范") == {3}
    assert q("一二三四五六七八九") == {5}    # record 4 deleted
    assert q("二三四五六七八九十") == set()
    assert q("三四五") == {5} and q("八九") == {5}
    assert q("伟") == {1} and q("园") == {1} and q("哈") == {5}   # one char: short fields only


def test_substring_check_respects_latin_words_and_filter_cache(small_index):
    """Digits glued to a Latin word belong to the word (``d30``), so ``30栋`` is not in
    ``d30栋``; cached filter arrays follow new commits."""
    small_index.add_or_update([
        blank_doc(1, "档号d30栋二单元", year=2020),
        blank_doc(2, "位于30栋二单元", year=2021),
    ])
    q = lambda t, **kw: {h.record_id for h in small_index.search(  # noqa: E731
        SearchRequest(text=t, per_page=50, **kw), ALL).hits}
    assert q("30栋") == {2} and q("栋二单元") == {1, 2} and q("30栋二") == {2}
    assert q("栋二单元", year_from=2021) == {2} and q("", year_from=2020, year_to=2020) == {1}
    small_index.add_or_update([blank_doc(3, "位于30栋二单元", year=2020)])
    assert q("30栋二", year_from=2020, year_to=2020) == {3}
    small_index.delete([2])
    assert q("30栋二") == {3}


def test_one_latin_letter_is_not_a_pinyin_prefix(small_index):
    small_index.add_or_update([blank_doc(1, "合同", customer_name="张三", customer_kind="person"),
                               blank_doc(2, "x 型号合同")])
    hits = lambda text: {h.record_id for h in small_index.search(SearchRequest(text=text), ALL).hits}  # noqa: E731
    assert hits("zs") == {1}   # initials: a prefix of the pinyin keys
    assert hits("zha") == {1}
    assert hits("z") == set()  # one letter: no prefix expansion
    assert hits("x") == {2}    # but the letter as a word


def test_customers_are_found_apart_from_records(small_index):
    from datetime import datetime

    from search_index import CustomerDoc

    when = datetime(2026, 1, 5, 9, 0)
    small_index.add_or_update([
        blank_doc(1, "欧阳明华的认购书", customer_id=7, customer_name="欧阳明华", department_id=1),
        CustomerDoc(7, "C000007", "欧阳明华", ["13812345678"], "11010519491231002X", 1, when),
        CustomerDoc(8, "C000008", "欧阳明丽", ["13900008888"], None, 2, when),  # no records
        CustomerDoc(9, "C000009", "深圳前海置业有限公司", [], None, None, when),
    ])
    assert small_index.doc_count() == 1  # records only
    for text, expected in (("欧阳明华", [7]), ("欧阳", [7, 8]), ("oymh", [7]), ("ouyangmingli", [8]),
                           ("5678", [7]), ("8888", [8]), ("31002x", [7]), ("C000008", [8]),
                           ("前海置业", [9]), ("量子", [])):
        assert small_index.search_customers(text, ALL) == expected, text
    # department rules, as for records; no 密级 for customers
    assert small_index.search_customers("欧阳", Access(0, frozenset({2}))) == [8]
    assert small_index.search_customers("前海置业", Access(3, frozenset({1, 2}))) == []
    assert small_index.search_customers("欧阳", Access(-1, None)) == []
    # a record search never returns a customer document, nor counts one
    r = small_index.search(SearchRequest(text="欧阳"), ALL)
    assert r.total == 1 and [h.record_id for h in r.hits] == [1]
    assert small_index.search(SearchRequest(), ALL).total == 1
    small_index.purge([], customer_ids=[8])
    assert small_index.search_customers("欧阳", ALL) == [7]
