"""Quality suite: pages in Traditional and Simplified script, OCR text and synthetic customers.

The pages are written for the tests (tests/generated/texts.py); the same checks on the real seed
pages are in tests/acceptance/test_seed_pages.py.

Every query kind of the issue must find its expected records in the top 10; where a brute-force
oracle (substring search over the same normalised fields) exists, the total must equal it exactly
(recall 1.0 and precision 1.0). Control queries must return nothing.
"""
from __future__ import annotations

import random

import opencc
import pytest

from search_index import Access, SearchRequest, normalise
from search_index.analysis import (
    FIELD_SEPARATOR,
    archival_code_keys,
    code_keys,
    customer_no_keys,
    phone_id_keys,
    pinyin_keys,
    query_code_keys,
)

from .conftest import OCR_ID, PAGE_IDS

ALL = Access(max_secrecy=3, department_ids=None)
TEXT_FIELDS = ("customer_name", "title", "address", "project", "unit", "content")


def all_docs(corpus):
    recs, pages, ocr = corpus
    return [d for d, _ in recs] + pages + [ocr]


def oracle_text(corpus, text: str) -> set[int]:
    """Records where every whitespace-separated chunk is a substring of one normalised field."""
    chunks = [normalise(c) for c in text.split()]
    out = set()
    for d in all_docs(corpus):
        fields = [normalise(getattr(d, f)) for f in TEXT_FIELDS]
        if all(any(c in f for f in fields) for c in chunks):
            out.add(d.record_id)
    return out


def doc_keys(d) -> set[str]:
    """Every number and code key of a record: phones and ID, 档号 and 客户号, its text."""
    keys = archival_code_keys(d.archival_code) | customer_no_keys(d.customer_no)
    for p in d.phones:
        keys |= phone_id_keys(p)
    keys |= phone_id_keys(d.id_number)
    return keys | code_keys(normalise(FIELD_SEPARATOR.join(getattr(d, f) for f in TEXT_FIELDS)))


def oracle_nums(corpus, num: str) -> set[int]:
    """Records holding one of the keys a number query looks up (brute force over the corpus)."""
    q = query_code_keys(num)
    wanted = set(q.exact) | set(q.prefixes) | ({q.tail} if q.tail else set())
    out = set()
    for d in all_docs(corpus):
        keys = doc_keys(d)
        if wanted & keys or (q.custno_prefix and any(k.startswith(q.custno_prefix) for k in keys)):
            out.add(d.record_id)
    return out


def ids(result) -> list[int]:
    return [h.record_id for h in result.hits]


def search(ix, text, **kw):
    return ix.search(SearchRequest(text=text, per_page=kw.pop("per_page", 10), **kw), ALL)


def assert_exact(ix, corpus, text, must: set[int]):
    expected = oracle_text(corpus, text)
    assert must <= expected, "test data error"
    r = search(ix, text, per_page=200)
    assert r.total == len(expected), (text, r.total, len(expected))
    assert set(ids(r)) == expected, text
    if len(expected) <= 10:
        assert must <= set(ids(search(ix, text))), text


def customers(corpus):
    seen = {}
    for d, c in corpus[0]:
        seen.setdefault(c.customer_id, (c, []))[1].append(d.record_id)
    return list(seen.values())


def pick(corpus, n, pred):
    out = [(c, rids) for c, rids in customers(corpus) if pred(c)]
    assert len(out) >= n, "corpus too small for this query kind"
    return out[:n]


def test_two_char_given_name(quality_index, corpus):
    picked = pick(corpus, 8, lambda c: c.kind == "person" and len(c.name) == 3
                  and len(oracle_text(corpus, c.name[1:])) <= 10)
    for c, rids in picked:
        assert_exact(quality_index, corpus, c.name[1:], set(rids))


def test_full_name_incl_compound_surnames(quality_index, corpus):
    picked = pick(corpus, 8, lambda c: c.kind == "person")
    picked += pick(corpus, 3, lambda c: c.kind == "person" and c.name[:2] in ("欧阳", "司马", "诸葛",
                   "上官", "东方", "皇甫", "尉迟", "公孙", "令狐", "慕容", "夏侯", "司徒"))
    for c, rids in picked:
        assert_exact(quality_index, corpus, c.name, set(rids))


def _py_owner_count(corpus, key):
    return sum(len(rids) for c, rids in customers(corpus) if key in pinyin_keys(c.name))


def test_pinyin_full_and_initials(quality_index, corpus):
    done_full = done_init = 0
    for c, rids in customers(corpus):
        if c.kind != "person":
            continue
        keys = sorted(pinyin_keys(c.name), key=len)
        full, init = keys[-1], keys[0]
        if done_full < 6 and _py_owner_count(corpus, full) <= 10:
            r = search(quality_index, full)
            assert set(rids) <= set(ids(r)), (c.name, full)
            done_full += 1
        if done_init < 4 and len(init) == 3 and _py_owner_count(corpus, init) <= 6:
            r = search(quality_index, init.upper())
            if r.total <= 10:  # a prefix also matches longer initials / full keys starting so
                assert set(rids) <= set(ids(r)), (c.name, init)
                done_init += 1
    assert done_full == 6 and done_init >= 2


def test_heteronym_surnames_from_the_table_by_pinyin(quality_index, corpus):
    table = {"曾": "zeng", "单": "shan", "解": "xie", "区": "ou", "仇": "qiu", "查": "zha", "朴": "piao",
             "覃": "qin", "翟": "zhai"}
    checked = 0
    for c, rids in customers(corpus):
        if c.kind == "person" and c.name[0] in table and c.name[:2] not in ("单于",):
            key = sorted(pinyin_keys(c.name), key=len)[-1]
            assert key.startswith(table[c.name[0]])
            r = search(quality_index, key, per_page=50)
            assert set(rids) <= set(ids(r)), (c.name, key)
            checked += 1
    assert checked >= 3


def test_address_fragment_and_project_building(quality_index, corpus):
    for c, rids in pick(corpus, 6, lambda c: True):
        assert_exact(quality_index, corpus, c.address[-8:], set(rids))
        building = c.unit.split("栋")[0] + "栋"
        assert_exact(quality_index, corpus, f"{c.project} {building}", set(rids))


def test_traditional_query_on_simplified_text_and_back(quality_index, corpus):
    s2t = opencc.OpenCC("s2t")
    for c, rids in pick(corpus, 4, lambda c: True):
        trad = s2t.convert(c.address[-10:])
        assert_exact(quality_index, corpus, trad, set(rids))
    # a page written in Traditional, queried in Simplified
    r = search(quality_index, "房地产客户档案的建立与管理")
    assert PAGE_IDS["traditional"] in ids(r)
    r = search(quality_index, "温馨卡记录客户来访的时间")
    assert PAGE_IDS["traditional"] in ids(r)
    # pages written in Simplified, queried in Traditional
    r = search(quality_index, "銷售案場客戶資料登記規範")
    assert PAGE_IDS["simplified_rules"] in ids(r)
    r = search(quality_index, "售樓處信息系統簡介")
    assert PAGE_IDS["simplified_system"] in ids(r)


def test_phones_and_id_numbers(quality_index, corpus):
    picked = pick(corpus, 8, lambda c: c.id_number is not None)
    for c, rids in picked:
        for q in (c.phones[0][-4:], c.phones[0], c.id_number[-6:], c.id_number,
                  f"{c.phones[0][:3]}-{c.phones[0][3:7]}-{c.phones[0][7:]}"):
            expected = oracle_nums(corpus, normalise(q).replace("-", ""))
            assert set(rids) <= expected
            r = search(quality_index, q, per_page=200)
            assert set(ids(r)) == expected and r.total == len(expected), q


def test_name_char_and_phone_tail(quality_index, corpus):
    for c, rids in pick(corpus, 4, lambda c: c.kind == "person"):
        r = search(quality_index, f"{c.name[0]} {c.phones[0][-4:]}")
        assert set(rids) <= set(ids(r))
        assert all(rid in oracle_nums(corpus, c.phones[0][-4:]) for rid in ids(r))


def test_archival_code_full_and_prefix(quality_index, corpus):
    recs = corpus[0]
    for d, _c in recs[:20:4]:
        r = search(quality_index, d.archival_code)
        assert ids(r) == [d.record_id]
        prefix = d.archival_code.rsplit("-", 2)[0]  # fonds-year-retention-customer
        r = search(quality_index, prefix, per_page=50)
        expected = {x.record_id for x, _ in recs if x.archival_code.startswith(prefix)}
        assert set(ids(r)) == expected
        r = search(quality_index, d.customer_no, per_page=50)
        assert d.record_id in ids(r)


def test_phrases_from_pages(quality_index, corpus):
    cases = {
        "溫馨卡記錄客戶來訪的時間": "traditional",
        "按一戶一檔的原則編號存放": "traditional",
        "姓名、电话与证件号码不得留空": "simplified_rules",
        "合同编号一一对应": "simplified_rules",
        "按月份查看销售数据": "simplified_system",
    }
    for text, page in cases.items():
        expected = oracle_text(corpus, text)
        assert PAGE_IDS[page] in expected
        r = search(quality_index, text, per_page=200)
        assert r.total == len(expected), text
        top = ids(search(quality_index, text))
        assert PAGE_IDS[page] in top or len(expected) > 10, text


def test_ocr_text_with_spaces_inside_words(quality_index, corpus):
    for text in ("在媒介越来越多的情形下", "现在互动性和定制性带来了新的挑战", "过去主流的是大众传播",
                 "定制性带来", "如何让品牌"):
        r = search(quality_index, text)
        assert OCR_ID in ids(r), text
    r = search(quality_index, "大众传播")
    hit = next(h for h in r.hits if h.record_id == OCR_ID)
    assert "<mark>大众传播</mark>" in hit.snippet


def test_controls_return_nothing(quality_index, corpus):
    rng = random.Random(7)
    rare = "齉龘靐齾爩鱻麤龗灪龖厵纞虋讟钃鸜麷"
    for _ in range(10):
        q = "".join(rng.sample(rare, 2)) + "".join(rng.sample(rare, 2))
        assert not oracle_text(corpus, q)
        assert search(quality_index, q).total == 0
    taken = set()
    for d in all_docs(corpus):
        taken |= {k.lstrip("~^") for k in doc_keys(d)}
    free4 = next(f"{i:04d}" for i in range(10_000) if f"{i:04d}" not in taken)
    free6 = next(f"{i:06d}" for i in range(10**6) if f"{i:06d}" not in taken)
    for q in (free4, free6, "13900000000", "110105199001011234", "xqzjkw", "0009-1999-"):
        assert search(quality_index, q).total == 0, q
    # pairs that exist only apart: a phrase is an exact substring, not an AND of bigrams
    assert oracle_text(corpus, "档案客户规范") == set()
    assert search(quality_index, "档案客户规范").total == 0


@pytest.mark.parametrize("text", ["客户", "档案管理", "阳光花园"])
def test_common_terms_exact_totals(quality_index, corpus, text):
    assert search(quality_index, text).total == len(oracle_text(corpus, text))


def test_random_substrings_match_the_oracle_exactly(quality_index, corpus):
    """Random 2-9 character slices of every text field: totals and hits equal brute force."""
    rng = random.Random(11)
    docs = all_docs(corpus)
    checked = 0
    while checked < 120:
        d = rng.choice(docs)
        text = normalise(getattr(d, rng.choice(TEXT_FIELDS)))
        if len(text) < 2:
            continue
        start = rng.randrange(len(text) - 1)
        piece = text[start:start + rng.randint(2, 9)]
        if len(piece) < 2 or not looks_han_digits(piece) or (piece.isdigit() and len(piece) >= 4):
            continue  # (4+ digits alone are phone/ID keys, not text)
        expected = oracle_text(corpus, piece)
        r = search(quality_index, piece, per_page=200)
        assert r.total == len(expected), (piece, r.total, len(expected))
        if len(expected) <= 200:
            assert set(ids(r)) == expected, piece
        checked += 1


def looks_han_digits(s: str) -> bool:
    return all(ch.isdigit() or "\u3400" <= ch <= "\u9fff" for ch in s)


def test_cached_common_substrings_give_the_same_answers(quality_index, corpus, monkeypatch):
    """Force the doc-array cache of common substrings on (the corpus is too small to reach the
    thresholds) and check exact totals/hits when filling the cache and when using it."""
    from search_index import execute

    monkeypatch.setattr(execute, "COMMON_FRACTION", 0.0)
    quality_index.close()  # fresh searchers: nothing cached yet
    rng = random.Random(5)
    docs = all_docs(corpus)
    pieces = ["客户", "档案管理", "阳光花园", "客户关系管理"]
    while len(pieces) < 40:
        text = normalise(rng.choice(docs).content)
        start = rng.randrange(max(1, len(text) - 1))
        piece = text[start:start + rng.randint(2, 6)]
        if len(piece) >= 2 and looks_han_digits(piece) and not piece.isdigit():
            pieces.append(piece)
    for _ in range(3):  # plain, materialised (second sighting), from the cache
        for piece in pieces:
            expected = oracle_text(corpus, piece)
            r = search(quality_index, piece, per_page=200)
            assert r.total == len(expected), piece
            assert set(ids(r)) == set(sorted(expected)[:200]) or len(expected) > 200, piece
        two = f"{pieces[0]} {pieces[2]}"
        assert search(quality_index, two).total == len(oracle_text(corpus, two))
    quality_index.close()
