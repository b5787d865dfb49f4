"""Set-at-a-time execution of a planned query, one leaf (segment) at a time.

Whoosh's collector moves a tree of matchers one document at a time and scores every match in
Python (15-30 microseconds per matching document): a two-character query matching a quarter of
a million records costs seconds, although the total must be exact. Here a query is evaluated
as sets of document numbers instead:

* posting lists are decoded a block at a time (``tuple`` of ids per block, no per-id Python);
  a list much longer than the current candidates is only *probed*: its block headers are walked
  and only the blocks that can hold a candidate are decoded (:func:`_probe_ids`);
* every node is evaluated *within* the candidates of the nodes evaluated before it (the
  permission set first, then the rarest parts), so filters and rights narrow the work before
  the exact-substring check reads any stored runs;
* scores are a constant per node plus, only where they differ between documents (field boosts,
  BM25 terms), a dict of the extra per document; the page is taken with ``heapq`` from that.

Ordering is Whoosh's: by score, ties by ascending global document number; by date, newest first,
ties by ascending document number. Queries of other types fall back to their own matcher.

This is the only engine: the plan's own nodes (:mod:`search_index.planning`) have no Whoosh
matchers. ``tests/search/reference_matchers.py`` gives them some, so that the tests can compare
this executor with Whoosh's collector on the same plans.
"""
from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from whoosh import query as wq
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching import wrappers
from whoosh.reading import IndexReader
from whoosh.searching import Searcher

from . import idlists
from .cache import LeafCache, leaf_cache
from .planning import RUNS_FIELD, Best, Boosted, CachedFilter, Substring, Verified
from .schema import encode_check, holds_all

#: A common bigram's decoded postings are kept (per leaf searcher, a sorted array of document
#: numbers) when it is in at least this fraction of the leaf and asked for a second time:
#: "客户" is in nearly every record, and probing its 8,000 posting blocks per query would cost
#: more than the rest of the query; project names, roads and digit pairs recur in queries.
COMMON_FRACTION = 0.05

#: Substring(prefilter=True): a posting block decode costs about this many ``all_runs`` checks
#: (see :func:`selective_bigrams`). Measured: a block of 128 postings ~30 us, a check ~4 us
#: (raw UTF-16 runs read with pread).
PREFILTER_BLOCK_COST = 7.0


@dataclass
class Res:
    """Documents (leaf numbers) of a node: each scores ``const`` plus ``var.get(doc, 0)``."""

    ids: set[int]
    const: float = 0.0
    var: dict[int, float] | None = None


@dataclass
class Leaf:
    """One segment: its searcher and reader, and the per-searcher caches."""

    searcher: Searcher
    reader: IndexReader
    cache: LeafCache

    @classmethod
    def of(cls, searcher: Searcher) -> Leaf:
        """The leaf of a leaf (one-segment) searcher."""
        return cls(searcher, searcher.reader(), leaf_cache(searcher))


EMPTY = Res(set())


# ---------------------------------------------------------------------------------------------
# postings


def _leaf_matcher(reader, fieldname: str, tbytes: bytes):
    """The raw postings of a term (deleted documents are removed later by the permission set)."""
    m = reader.postings(fieldname, tbytes)
    while isinstance(m, wrappers.FilterMatcher):  # deletions: filtered by the caller's set
        m = m.child
    return m


def _all_ids(m) -> list[int]:
    """Every document number of a matcher, block by block for Whoosh's leaf matcher."""
    if type(m) is not W3LeafMatcher:
        return list(m.all_ids()) if m.is_active() else []
    out: list[int] = []
    while not m._atend and m._i < m._blocklength:
        if m._ids is None:
            m._read_ids()
        out.extend(m._ids)
        m._next_block()
    return out


def _probe_ids(m, cands: list[int]) -> list[int]:
    """The sorted ``cands`` that are in the matcher's postings, decoding only the blocks whose
    id range can hold one of them (the other blocks cost a header read)."""
    if type(m) is not W3LeafMatcher:
        got = set(m.all_ids()) if m.is_active() else set()
        return [d for d in cands if d in got]
    out: list[int] = []
    i, n = 0, len(cands)
    while i < n and not m._atend and m._i < m._blocklength:
        maxid = m._maxid
        if cands[i] > maxid:
            m._next_block()
            continue
        j = bisect_right(cands, maxid, i)
        if m._ids is None:
            m._read_ids()
        block = m._ids
        if j - i == 1:
            if cands[i] in block:
                out.append(cands[i])
        else:
            out.extend(sorted(set(block).intersection(cands[i:j])))
        i = j
        m._next_block()
    return out


def _common_ids(leaf: Leaf, fieldname: str, tbytes: bytes) -> array:
    """The sorted documents of a common term, decoded once per leaf searcher (cached)."""
    key = ("common", fieldname, tbytes)
    ids = leaf.cache.get(key)
    if ids is None:
        ids = array("i", _all_ids(_leaf_matcher(leaf.reader, fieldname, tbytes)))
        leaf.cache.put(key, ids)
    return ids


def _has(ids: array, d: int) -> bool:
    i = bisect_left(ids, d)
    return i < len(ids) and ids[i] == d


def _lists(leaf: Leaf, fieldname: str) -> idlists.IdLists | None:
    """The leaf's plain document lists of a field (bulk-written segments), opened once."""
    d = leaf.cache.idlists
    if fieldname not in d:
        d[fieldname] = idlists.open_lists(leaf.reader, fieldname)
    return d[fieldname]


def _sorted_array(ids: set[int]) -> np.ndarray:
    a = np.fromiter(ids, dtype=np.uint32, count=len(ids))
    a.sort()
    return a


def _array_within(arr: np.ndarray, within: set[int] | None) -> set[int]:
    if within is None:
        return set(arr.tolist())
    if len(within) * 16 < len(arr):  # a few candidates: binary searches
        return set(idlists.contains(arr, _sorted_array(within)).tolist())
    return within.intersection(arr.tolist())


def term_ids(leaf: Leaf, fieldname: str, tbytes: bytes, df: int,
             within: set[int] | None) -> set[int]:
    """Documents holding a term, restricted to ``within`` (None: no restriction)."""
    if within is not None and not within:
        return set()
    lists = _lists(leaf, fieldname)
    if lists is not None:
        arr = lists.get(tbytes)
        if arr is not None:
            return _array_within(arr, within)
    ndocs = leaf.reader.doc_count_all()
    key = ("common", fieldname, tbytes)
    if ndocs and df >= COMMON_FRACTION * ndocs and \
            (leaf.cache.get(key) is not None or leaf.cache.seen_before(key)):
        ids = _common_ids(leaf, fieldname, tbytes)
        if within is None:
            return set(ids)
        if len(within) * 16 < len(ids):  # a few candidates: binary searches
            return {d for d in within if _has(ids, d)}
        return within.intersection(ids)
    m = _leaf_matcher(leaf.reader, fieldname, tbytes)
    if within is None:
        return set(_all_ids(m))
    if len(within) * 4 < df:  # far fewer candidates than postings: probe the blocks
        return set(_probe_ids(m, sorted(within)))
    return within.intersection(_all_ids(m))


# ---------------------------------------------------------------------------------------------
# nodes


def _list_substring(lists: idlists.IdLists, q: Substring,
                    within: set[int] | None) -> set[int] | None:
    """The documents holding every bigram of ``q`` (within ``within``), intersected as numpy
    arrays, rarest first; None if a bigram is not in the lists."""
    arrs = []
    for b in q.bigram_terms():
        a = lists.get(b)
        if a is None:
            return None
        if not len(a):
            return set()
        arrs.append(a)
    arrs.sort(key=len)
    cur = arrs[0]
    if within is not None and len(within) * 4 < len(cur):  # the rights (or filters) first
        cur = idlists.contains(cur, _sorted_array(within))
        within = None
    for a in arrs[1:]:
        if not len(cur):
            return set()
        cur = idlists.intersect(cur, a)
    ids = set(cur.tolist())
    return ids if within is None else ids & within


def selective_bigrams(q: Substring, dfs: list[tuple[int, bytes]],
                      ndocs: int) -> list[tuple[int, bytes]]:
    """Of ``dfs`` ((document frequency, bigram), rarest first), the bigrams worth intersecting
    before the exact check: the rarest, every bigram of a two-character text (it is its own
    check), and each further one (rarest first) whose cost -- skipping into its posting blocks,
    at most one block decode per candidate -- is below what it saves in candidates' runs read
    (PREFILTER_BLOCK_COST reads per block)."""
    must = {t.encode("utf-8") for t in q.texts if len(t) == 2}
    keep = [dfs[0]]
    # the candidates estimated by the rarest bigram's frequency throughout: the bigrams of a
    # phrase are far from independent
    cand = float(dfs[0][0])
    for df, b in dfs[1:]:
        frac = df / ndocs if ndocs else 1.0
        if b in must or min(cand, df / 128.0) * PREFILTER_BLOCK_COST < cand * (1.0 - frac):
            keep.append((df, b))
    return keep


def _block_substring(q: Substring, leaf: Leaf, within: set[int] | None) -> set[int]:
    """The documents holding the (selective) bigrams of ``q``, from Whoosh's posting blocks."""
    reader = leaf.reader
    fn = q.fieldname
    dfs = []
    for b in q.bigram_terms():
        if (fn, b) not in reader:
            return set()
        dfs.append((reader.doc_frequency(fn, b), b))
    dfs.sort()
    if q.prefilter and len(dfs) > 1:
        dfs = selective_bigrams(q, dfs, reader.doc_count_all())
    ids = within
    for df, b in dfs:
        ids = term_ids(leaf, fn, b, df, ids)
        if not ids:
            return set()
    return ids


def _substring(q: Substring, leaf: Leaf, within: set[int] | None) -> Res:
    if q.fieldname not in leaf.reader.schema:
        return EMPTY
    lists = _lists(leaf, q.fieldname)
    ids = _list_substring(lists, q, within) if lists is not None else None
    if ids is None:  # a segment Whoosh wrote itself
        ids = _block_substring(q, leaf, within)
    if ids and q.exact:
        checks = [t for t in q.texts if len(t) > 2]  # two characters: the bigram said it all
        if checks:
            ids = verify(leaf, ids, checks)
    return Res(ids, q.boost) if ids else EMPTY


def verify(leaf: Leaf, ids: Iterable[int], texts: Iterable[str]) -> set[int]:
    """The documents whose ``all_runs`` value holds every text (exact substrings)."""
    checks = [encode_check(t) for t in dict.fromkeys(texts)]
    runs = _runs(leaf)
    # in file order: the column is read forwards
    return {d for d in sorted(ids) if holds_all(runs[d], checks)}


def _runs(leaf: Leaf):
    """The leaf's ``all_runs`` column reader (opened once per leaf searcher)."""
    r = leaf.cache.runs
    if r is None:
        r = leaf.cache.runs = leaf.reader.column_reader(RUNS_FIELD, translate=False)
    return r


def _cached_filter(q: CachedFilter, leaf: Leaf) -> array:
    """The sorted documents of the leaf matching every filter of ``q`` (cached, as are those
    of each filter: requests combine the same few filters)."""
    ids = leaf.cache.get(q.key)
    if ids is None:
        parts = sorted((_filter_ids(f, leaf) for f in q.qs), key=len)
        if len(parts) == 1:
            ids = parts[0]
        else:
            common = set(parts[0])
            for p in parts[1:]:
                common.intersection_update(p)
                if not common:
                    break
            ids = array("i", sorted(common))
        leaf.cache.put(q.key, ids)
    return ids


def _filter_ids(f: wq.Query, leaf: Leaf) -> array:
    """The sorted documents of one filter in the leaf (cached; scores ignored)."""
    key = ("filter", repr(f))
    ids = leaf.cache.get(key)
    if ids is None:
        found = evaluate(f, leaf, None).ids
        reader = leaf.reader
        if found and reader.has_deletions():  # raw postings still list deleted documents
            found = {d for d in found if not reader.is_deleted(d)}
        ids = array("i", sorted(found))
        leaf.cache.put(key, ids)
    return ids


def _constant(reader, fieldobj, fieldname: str, tbytes: bytes) -> bool:
    """Whoosh scores every posting of this term with a constant (the boost): the field is not
    scorable (score = weight x boost) and every weight is 1 (a GramSet's Latin words carry
    their count)."""
    return not fieldobj.scorable and reader.term_info(fieldname, tbytes).max_weight() <= 1.0


def _term(fieldname: str, text, boost: float, leaf: Leaf, within: set[int] | None) -> Res:
    reader = leaf.reader
    if fieldname not in reader.schema:
        return EMPTY
    fieldobj = reader.schema[fieldname]
    try:
        tbytes = fieldobj.to_bytes(text) if not isinstance(text, bytes) else text
    except ValueError:
        return EMPTY
    if (fieldname, tbytes) not in reader:
        return EMPTY
    if _constant(reader, fieldobj, fieldname, tbytes):
        df = reader.doc_frequency(fieldname, tbytes)
        ids = term_ids(leaf, fieldname, tbytes, df, within)
        return Res(ids, boost) if ids else EMPTY
    # scored per document (BM25 of a scorable field, or the term's weight): Whoosh's scorer
    m = leaf.searcher.postings(fieldname, tbytes)
    var: dict[int, float] = {}
    if within is not None and len(within) * 4 < reader.doc_frequency(fieldname, tbytes):
        for d in sorted(within):  # few candidates: skip to each
            if not m.is_active():
                break
            m.skip_to(d)
            if m.is_active() and m.id() == d:
                var[d] = m.score() * boost
    else:
        while m.is_active():
            d = m.id()
            if within is None or d in within:
                var[d] = m.score() * boost
            m.next()
    return Res(set(var), 0.0, var) if var else EMPTY


def _multiterm(q: wq.MultiTerm, leaf: Leaf, within: set[int] | None) -> Res:
    texts = [t for t in q._btexts(leaf.reader) if t]
    fn = q.field()
    if not texts:
        return EMPTY
    if len(texts) == 1 or not q.constantscore:
        return _or([_term(fn, t, q.boost, leaf, within) for t in texts])
    ids: set[int] = set()
    reader = leaf.reader
    for t in texts:  # constant score: only the documents, never a per-document BM25 score
        ids |= term_ids(leaf, fn, t, reader.doc_frequency(fn, t), within)
    return Res(ids, q.boost) if ids else EMPTY


def _and(qs: list[wq.Query], leaf: Leaf, within: set[int] | None) -> Res:
    order = sorted(qs, key=lambda q: _estimate(q, leaf))
    const = 0.0
    var: dict[int, float] | None = None
    ids = within
    parts = []
    for q in order:
        r = evaluate(q, leaf, ids)
        if not r.ids:
            return EMPTY
        ids = r.ids  # a node's documents are a subset of the ``within`` it was given
        parts.append(r)
    for r in parts:
        const += r.const
        if r.var:
            if var is None:
                var = {}
            for d, s in r.var.items():
                if d in ids:
                    var[d] = var.get(d, 0.0) + s
    return Res(ids, const, var)


def _or(parts: list[Res]) -> Res:
    """Union; a document scores the sum of the parts holding it (Whoosh's Or)."""
    parts = [p for p in parts if p.ids]
    if not parts:
        return EMPTY
    if len(parts) == 1:
        return parts[0]
    ids: set[int] = set()
    for p in parts:
        ids |= p.ids
    var: dict[int, float] = {}
    for p in parts:
        for d in p.ids:
            var[d] = var.get(d, 0.0) + p.const
        if p.var:
            for d, s in p.var.items():
                var[d] = var.get(d, 0.0) + s
    return Res(ids, 0.0, var)


def _best(parts: list[Res]) -> Res:
    """Union; a document scores the best part holding it (:class:`planning.Best`)."""
    parts = [p for p in parts if p.ids]
    if len(parts) <= 1:
        return parts[0] if parts else EMPTY
    ids: set[int] = set()
    var: dict[int, float] = {}
    for p in parts:
        ids |= p.ids
        pv = p.var or {}
        for d in p.ids:
            s = p.const + pv.get(d, 0.0)
            if s > var.get(d, -1.0):
                var[d] = s
    return Res(ids, 0.0, var)


def _add_optional(r: Res, opts: list[Res]) -> Res:
    """``r`` with the scores of the optional parts added on the documents they share."""
    var = dict(r.var) if r.var else {}
    for o in opts:
        if not o.ids:
            continue
        for d in o.ids:
            if d in r.ids:
                var[d] = var.get(d, 0.0) + o.const
        if o.var:
            for d, s in o.var.items():
                if d in r.ids:
                    var[d] = var.get(d, 0.0) + s
    return Res(r.ids, r.const, var or None)


def _estimate(q: wq.Query, leaf: Leaf) -> int:
    """How many documents ``q`` may match (the order of an And: the most selective first)."""
    return q.estimate_size(leaf.reader)


def _fallback(q: wq.Query, leaf: Leaf, within: set[int] | None) -> Res:
    """Any other query: its own matcher, one document at a time."""
    m = q.matcher(leaf.searcher)
    var: dict[int, float] = {}
    while m.is_active():
        d = m.id()
        if within is None or d in within:
            var[d] = m.score()
        m.next()
    return Res(set(var), 0.0, var) if var else EMPTY


def evaluate(q: wq.Query, leaf: Leaf, within: set[int] | None) -> Res:
    """The documents of ``q`` in one leaf (a subset of ``within`` when given) and their scores."""
    if q is wq.NullQuery or isinstance(q, wq.NullQuery.__class__):
        return EMPTY
    if isinstance(q, Substring):
        return _substring(q, leaf, within)
    if isinstance(q, CachedFilter):
        ids = set(_cached_filter(q, leaf))
        ids = ids if within is None else (ids & within)
        return Res(ids, float(len(q.qs))) if ids else EMPTY
    if isinstance(q, Verified):
        r = evaluate(q.required, leaf, within)
        if r.ids and q.texts:
            ids = verify(leaf, r.ids, q.texts)
            r = Res(ids, r.const, r.var) if ids else EMPTY
        return r
    if isinstance(q, Boosted):
        r = evaluate(q.required, leaf, within)
        if not r.ids:
            return EMPTY
        return _add_optional(r, [evaluate(b, leaf, r.ids) for b in q.boosts])
    if type(q) is wq.Term:
        return _term(q.fieldname, q.text, q.boost, leaf, within)
    if type(q) is wq.And:
        return _and(q.subqueries, leaf, within) if q.subqueries else EMPTY
    if type(q) is wq.Or:
        return _or([evaluate(c, leaf, within) for c in q.subqueries])
    if isinstance(q, Best):
        return _best([evaluate(c, leaf, within) for c in q.qs])
    if type(q) is wq.AndMaybe:
        r = evaluate(q.a, leaf, within)
        if not r.ids:
            return EMPTY
        return _add_optional(r, [evaluate(q.b, leaf, r.ids)])
    if type(q) is wq.Every:
        ids = set(leaf.reader.all_doc_ids()) if within is None else set(within)
        return Res(ids, q.boost)
    if isinstance(q, wq.MultiTerm):  # Prefix, TermRange (numeric ranges), ...
        return _multiterm(q, leaf, within)
    if isinstance(q, wq.NumericRange):
        return _numeric_range(q, leaf, within)
    return _fallback(q, leaf, within)


def _numeric_range(q: wq.NumericRange, leaf: Leaf, within: set[int] | None) -> Res:
    """A numeric range (Whoosh compiles it to an Or of tiered terms): constant score."""
    cq = q._compile_query(leaf.reader)
    while isinstance(cq, wq.ConstantScoreQuery):
        cq = cq.child
    subs = cq.subqueries if isinstance(cq, wq.Or) else [cq]
    ids: set[int] = set()
    for sub in subs:
        ids |= evaluate(sub, leaf, within).ids
    return Res(ids, q.boost) if ids else EMPTY


# ---------------------------------------------------------------------------------------------
# a page


def top_by_score(r: Res, offset: int, k: int) -> list[tuple[float, int]]:
    """The best ``k`` (score, global doc) of a leaf's result: by score, ties by doc number."""
    var = r.var
    if not var:
        return [(r.const, offset + d) for d in heapq.nsmallest(k, r.ids)]
    best = heapq.nsmallest(k, ((-(r.const + s), d) for d, s in var.items() if d in r.ids))
    out = [(-neg, offset + d) for neg, d in best]
    if len(out) < k:  # documents without any extra score come after, by number
        rest = heapq.nsmallest(k - len(out), (d for d in r.ids if d not in var))
        out.extend((r.const, offset + d) for d in rest)
    return out


def top_by_date(r: Res, leaf: Leaf, offset: int, k: int) -> list[tuple[int, int]]:
    """The newest ``k`` (-sort_date, global doc) of a leaf's result; ties by doc number."""
    col = leaf.reader.column_reader("sort_date", translate=True)
    return [(key, offset + d) for key, d in heapq.nsmallest(k, ((-col[d], d) for d in r.ids))]
