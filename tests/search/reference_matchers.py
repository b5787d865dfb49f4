"""Whoosh matchers for the plan's own query nodes: the reference the executor is compared with.

Production never moves a matcher over these nodes: ``search_index.execute`` evaluates a plan as
sets of document numbers. :func:`reference` gives a plan whose nodes have Whoosh matchers, for
Whoosh's own collector, which then walks the documents one at a time and scores each match --
a second, independent implementation of what each node means:

* ``Substring``: every bigram of every text present; with ``exact``, each text of three or more
  characters also a substring of the document's ``all_runs`` value. Constant score (the boost).
* ``Verified``: the documents of its child whose ``all_runs`` value holds every text; the
  child's scores.
* ``Boosted``: the documents of its required child, scored with the boosts that hold each one.
* ``CachedFilter``: the documents matching every filter; each filter scores 1.0.
* ``Best``: Whoosh's ``DisjunctionMax`` (a document scores its best part).

Written for clarity, not speed: no caches, every bigram intersected, the ``all_runs`` value
decoded and searched as text.
"""
from __future__ import annotations

from array import array
from bisect import bisect_left

from whoosh import query as wq
from whoosh.matching import mcore

from search_index.planning import Best, Boosted, CachedFilter, Substring, Verified
from search_index.schema import RUNS_ENCODING

RUNS_FIELD = "all_runs"


def reference(q: wq.Query) -> wq.Query:
    """``q`` with each of the plan's own nodes replaced by its reference (same meaning), so that
    Whoosh's ``Searcher.search`` and collectors can run it."""
    if isinstance(q, Substring):
        return RefSubstring(q.fieldname, q.texts, q.boost, q.exact)
    if isinstance(q, Verified):
        return RefVerified(reference(q.required), q.texts)
    if isinstance(q, Boosted):
        return RefBoosted(reference(q.required), [reference(b) for b in q.boosts])
    if isinstance(q, CachedFilter):
        return RefCachedFilter(q.qs)
    if isinstance(q, Best):
        return wq.DisjunctionMax([reference(c) for c in q.qs])
    return q.apply(reference)


def _runs(searcher):
    return searcher.reader().column_reader(RUNS_FIELD, translate=False)


def _holds_all(value: bytes, texts) -> bool:
    text = value.decode(RUNS_ENCODING)
    return all(t in text for t in texts)


class _ConstantScore:
    """Matcher methods of matchers that give every match the same score (``self._score``)."""

    def supports_block_quality(self):
        return False

    def max_quality(self):
        return self._score

    def block_quality(self):
        return self._score

    def weight(self):
        return 1.0

    def score(self):
        return self._score

    def term_matchers(self):
        return iter(())


class SubstringMatcher(_ConstantScore, mcore.Matcher):
    """Documents where every matcher of ``ms`` (rarest first: the first one leads) is on the
    same document and the ``all_runs`` value holds every one of ``checks``."""

    def __init__(self, ms, checks, score, runs=None, _find=True):
        self._ms = ms
        self._checks = checks
        self._runs = runs
        self._score = score
        self._id = -1
        self._active = True
        if _find:
            self._find()

    def _find(self) -> None:
        lead, rest = self._ms[0], self._ms[1:]
        while True:
            if not lead.is_active():
                self._active = False
                return
            d = lead.id()
            aligned = True
            for m in rest:
                if m.id() < d:
                    m.skip_to(d)
                    if not m.is_active():
                        self._active = False
                        return
                if m.id() > d:
                    lead.skip_to(m.id())
                    aligned = False
                    break
            if not aligned:
                continue
            if not self._checks or _holds_all(self._runs[d], self._checks):
                self._id = d
                return
            lead.next()

    def is_active(self):
        return self._active

    def id(self):
        return self._id

    def next(self):
        if not self._active:
            raise mcore.ReadTooFar
        self._ms[0].next()
        self._find()

    def skip_to(self, id):
        if not self._active:
            raise mcore.ReadTooFar
        if id <= self._id:
            return
        self._ms[0].skip_to(id)
        self._find()

    def all_ids(self):
        while self._active:
            yield self._id
            self.next()

    def reset(self):
        for m in self._ms:
            m.reset()
        self._active = True
        self._id = -1
        self._find()

    def copy(self):
        c = SubstringMatcher([m.copy() for m in self._ms], self._checks, self._score, self._runs,
                             _find=False)
        c._id, c._active = self._id, self._active
        return c

    def replace(self, minquality=0):
        return self if self._active else mcore.NullMatcher()


class DocArrayMatcher(_ConstantScore, mcore.Matcher):
    """Constant-score matcher over a sorted array of document numbers."""

    def __init__(self, ids, score, i=0):
        self._ids = ids
        self._n = len(ids)
        self._i = i
        self._score = score

    def is_active(self):
        return self._i < self._n

    def id(self):
        return self._ids[self._i]

    def next(self):
        if self._i >= self._n:
            raise mcore.ReadTooFar
        self._i += 1

    def skip_to(self, id):
        if self._i >= self._n:
            raise mcore.ReadTooFar
        if self._ids[self._i] < id:
            self._i = bisect_left(self._ids, id, self._i)

    def all_ids(self):
        ids, i = self._ids, self._i
        self._i = self._n
        return iter(ids[i:])

    def reset(self):
        self._i = 0

    def copy(self):
        return DocArrayMatcher(self._ids, self._score, self._i)

    def replace(self, minquality=0):
        return self if self.is_active() else mcore.NullMatcher()


class VerifiedMatcher(mcore.Matcher):
    """The child's documents whose ``all_runs`` value holds every text; the child's scores."""

    def __init__(self, child, runs, texts):
        self.child = child
        self._runs = runs
        self._texts = texts
        self._settle()

    def _settle(self) -> None:
        child = self.child
        while child.is_active() and not _holds_all(self._runs[child.id()], self._texts):
            child.next()

    def is_active(self):
        return self.child.is_active()

    def id(self):
        return self.child.id()

    def next(self):
        self.child.next()
        self._settle()

    def skip_to(self, id):
        if id <= self.child.id():
            return
        self.child.skip_to(id)
        self._settle()

    def all_ids(self):
        while self.child.is_active():
            yield self.child.id()
            self.next()

    def reset(self):
        self.child.reset()
        self._settle()

    def copy(self):
        c = VerifiedMatcher.__new__(VerifiedMatcher)
        c.child, c._runs, c._texts = self.child.copy(), self._runs, self._texts
        return c

    def replace(self, minquality=0):
        return self if self.child.is_active() else mcore.NullMatcher()

    def supports_block_quality(self):
        return False

    def max_quality(self):
        return self.child.max_quality()

    def weight(self):
        return self.child.weight()

    def score(self):
        return self.child.score()

    def term_matchers(self):
        return iter(())


class BoostMatcher(mcore.Matcher):
    """The required matcher's documents; ``score()`` adds the boost matchers that hold the
    current document."""

    def __init__(self, child, boosts):
        self.child = child
        self.boosts = boosts

    def is_active(self):
        return self.child.is_active()

    def id(self):
        return self.child.id()

    def next(self):
        return self.child.next()

    def skip_to(self, id):
        return self.child.skip_to(id)

    def all_ids(self):
        return self.child.all_ids()

    def reset(self):
        self.child.reset()
        for m in self.boosts:
            m.reset()

    def copy(self):
        return BoostMatcher(self.child.copy(), [m.copy() for m in self.boosts])

    def replace(self, minquality=0):
        return self if self.child.is_active() else mcore.NullMatcher()

    def supports_block_quality(self):
        return False

    def max_quality(self):
        return self.child.max_quality() + sum(m.max_quality() for m in self.boosts)

    def weight(self):
        return self.child.weight()

    def score(self):
        d = self.child.id()
        s = self.child.score()
        for m in self.boosts:
            if m.is_active() and m.id() < d:
                m.skip_to(d)
            if m.is_active() and m.id() == d:
                s += m.score()
        return s

    def term_matchers(self):
        return iter(())


class RefSubstring(Substring):
    def matcher(self, searcher, context=None):
        reader = searcher.reader()
        fn = self.fieldname
        if fn not in searcher.schema:
            return mcore.NullMatcher()
        terms = {g.encode("utf-8") for t in self.texts for g in _bigrams(t)}
        if not all((fn, b) in reader for b in terms):
            return mcore.NullMatcher()
        ms = [reader.postings(fn, b) for b in sorted(terms, key=lambda b: (
            reader.doc_frequency(fn, b), b))]
        if not all(m.is_active() for m in ms):
            return mcore.NullMatcher()
        checks = [t for t in self.texts if len(t) > 2] if self.exact else []
        m = SubstringMatcher(ms, checks, self.boost, _runs(searcher) if checks else None)
        return m if m.is_active() else mcore.NullMatcher()


def _bigrams(text: str) -> list[str]:
    # written out again, not analysis.bigrams: the reference shares no code with the engine
    return [text[i:i + 2] for i in range(len(text) - 1)]


class RefVerified(Verified):
    def matcher(self, searcher, context=None):
        m = self.required.matcher(searcher, context)
        if not m.is_active():
            return mcore.NullMatcher()
        if not self.texts:
            return m
        return VerifiedMatcher(m, _runs(searcher), list(dict.fromkeys(self.texts)))


class RefBoosted(Boosted):
    def matcher(self, searcher, context=None):
        m = self.required.matcher(searcher, context)
        if not m.is_active():
            return mcore.NullMatcher()
        bms = [b.matcher(searcher, context) for b in self.boosts]
        bms = [b for b in bms if b.is_active()]
        return BoostMatcher(m, bms) if bms else m


class RefCachedFilter(CachedFilter):
    def matcher(self, searcher, context=None):
        q = self.qs[0] if len(self.qs) == 1 else wq.And(self.qs)
        m = q.matcher(searcher, context)
        ids = array("i", m.all_ids()) if m.is_active() else array("i")
        # each filter scores 1.0 (unscorable ID terms, a constant-score range)
        return DocArrayMatcher(ids, float(len(self.qs))) if ids else mcore.NullMatcher()
