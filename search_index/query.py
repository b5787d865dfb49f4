"""Search requests, access rights and query planning (text -> Whoosh query).

Planning, per whitespace-separated chunk of the input (chunks are AND-ed):

* digits only (spaces, dashes, ``+86`` allowed when the whole input is a number), at least 4, or
  an 18-character ID ending in X -> the ``nums`` field: 4 digits = last 4 of a phone/ID, 6 = last
  6, 11 = a full mobile number, 18 = a full ID number (other lengths: exact number, or a phrase in
  the text). Fewer than 4 digits -> text.
* 档号-looking input (``0001-2026-D30-C000042-3-0007`` or a prefix such as ``0001-2026-D30``),
  or a customer number (``C000042``) -> prefix on the ``code`` field.
* Latin letters only -> pinyin keys (full and initials, prefix allowed) OR the word in the text.
* anything else -> each Han/digit run of two or more characters must be a substring of one of
  name, project, unit, address, title, content: ONE :class:`Substring` query on the combined
  ``all`` field (bigrams without positions, rarest first; a document holding every bigram is
  then checked with :func:`schema.holds` on its ``all_runs`` column value: exact). Field
  boosts (name highest) come from an optional side (:class:`Boosted`) evaluated only on the documents
  that matched. A single character must occur in one of the short fields (name, title, address,
  project, unit -- not the content, where it would match nearly every record): one term of the
  ``uni`` field.

Filters (record type, year range, ...) are one :class:`CachedFilter`: a sorted array of the
matching document numbers per leaf searcher, each filter's documents cached per commit.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from array import array
from collections import OrderedDict

from whoosh import query as wq

from .analysis import QueryPart, bigrams, clean_number, normalise, query_terms

TEXT_FIELDS: dict[str, float] = {
    "name": 6.0, "project": 3.0, "unit": 2.5, "address": 2.0, "title": 2.0, "content": 1.0,
}
SHORT_FIELDS = ("name", "project", "unit", "address", "title")
ALL_FIELD = "all"
RUNS_FIELD = "all_runs"
UNI_FIELD = "uni"


#: Substring(prefilter=True): a posting block decode costs about this many ``all_runs`` checks
#: (see Substring._selective). Measured: a block of 128 postings ~30 us, a check ~4 us (raw
#: UTF-16 runs read with pread).
PREFILTER_BLOCK_COST = 7.0
#: What a leaf searcher's result cache may hold (LRU beyond).
CACHE_BYTES = 32 * 1024 * 1024


class _ResultCache:
    def __init__(self) -> None:
        self._d: OrderedDict = OrderedDict()
        self._bytes = 0
        self._seen: set = set()
        self.runs = None  # the leaf's ``all_runs`` column reader
        self.idlists: dict = {}  # field -> the leaf's idlists.IdLists (None: it has none)

    def seen_before(self, key) -> bool:
        """True from the second time a key is asked about (materialise only what recurs: the
        first time, a rare partner in an AND may let the matcher skip most postings)."""
        if key in self._seen:
            return True
        if len(self._seen) > 10_000:
            self._seen.clear()
        self._seen.add(key)
        return False

    def get(self, key):
        ids = self._d.get(key)
        if ids is not None:
            self._d.move_to_end(key)
        return ids

    def put(self, key, ids) -> None:
        """Keep an array (or bytearray bitmap) under ``key``, dropping the least recently used
        beyond CACHE_BYTES."""
        size = _nbytes(ids)
        if size > CACHE_BYTES:
            return
        old = self._d.pop(key, None)
        if old is not None:
            self._bytes -= _nbytes(old)
        self._d[key] = ids
        self._bytes += size
        while self._bytes > CACHE_BYTES:
            _, old = self._d.popitem(last=False)
            self._bytes -= _nbytes(old)


def _nbytes(ids) -> int:
    return getattr(ids, "itemsize", 1) * len(ids) + 100


def _runs_reader(searcher, reader):
    """The ``all_runs`` column reader of a leaf searcher (opened once per searcher)."""
    cache = _leaf_cache(searcher)
    r = cache.runs
    if r is None:
        r = cache.runs = reader.column_reader(RUNS_FIELD, translate=False)
    return r


def _leaf_cache(searcher) -> _ResultCache:
    cache = getattr(searcher, "_search_index_cache", None)
    if cache is None:
        cache = _ResultCache()
        searcher._search_index_cache = cache
    return cache


class Substring(wq.Query):
    """Each of ``text`` (normalised Han/digit runs of >= 2 characters; one string or a tuple
    of them, all required) is a substring of ``fieldname``.

    Two characters: one bigram term. Longer: the intersection of its distinct bigrams, rarest
    first, then ``text in runs`` on the document's ``all_runs`` column (the Han/digit runs of
    the six fields joined by ``|``: exact). Several texts share one intersection over all their
    bigrams (the column is only read for documents that hold every bigram of every part).
    ``exact=False`` (boosts only): every bigram present, no check; any GramSet field.
    """

    def __init__(self, fieldname: str, text, boost: float = 1.0, exact: bool = True,
                 prefilter: bool = False):
        self.fieldname = fieldname
        self.texts: tuple[str, ...] = (text,) if isinstance(text, str) else tuple(text)
        self.text = " ".join(self.texts)
        self.boost = boost
        self.exact = exact  # False: every bigram present, no substring check (boosts only)
        # True (with exact=False): the caller checks every text of >= 3 characters exactly
        # (Verified), so only a few selective bigrams are intersected (see PREFILTER_*)
        self.prefilter = prefilter and not exact

    def __repr__(self):
        return f"Substring({self.fieldname!r}, {self.texts!r}, boost={self.boost})"

    def __eq__(self, other):
        return (other.__class__ is self.__class__ and self.fieldname == other.fieldname
                and self.texts == other.texts and self.boost == other.boost
                and self.exact == other.exact and self.prefilter == other.prefilter)

    def __hash__(self):
        return hash((self.fieldname, self.texts, self.boost, self.exact, self.prefilter))

    def is_leaf(self):
        return True

    def _bigrams(self) -> list[bytes]:
        return list(dict.fromkeys(g.encode("utf-8") for t in self.texts for g in bigrams(t)))

    def estimate_size(self, ixreader):
        fn = self.fieldname
        return min((ixreader.doc_frequency(fn, b) for b in self._bigrams()), default=0)

    def _selective(self, dfs, ndocs):
        """The bigrams worth intersecting before the exact check: the rarest, every bigram of a
        two-character text (it is its own check), and each further one (rarest first) whose
        cost -- skipping into its posting blocks, at most one block decode per candidate --
        is below what it saves in candidates' runs read (PREFILTER_BLOCK_COST reads per
        block; the candidates estimated by the rarest bigram's frequency: the bigrams of a
        phrase are far from independent)."""
        must = {t.encode("utf-8") for t in self.texts if len(t) == 2}
        keep = [dfs[0]]
        cand = float(dfs[0][0])
        for df, b in dfs[1:]:
            frac = df / ndocs if ndocs else 1.0
            if b in must or \
                    min(cand, df / 128.0) * PREFILTER_BLOCK_COST < cand * (1.0 - frac):
                keep.append((df, b))  # cand kept: bigrams of one text are far from independent
        return keep


_CODE_RE = re.compile(r"^\d{4}-[0-9a-z][0-9a-z\-]*$|^\d{4}-$")
_CUSTNO_RE = re.compile(r"^[a-z]\d{4,}$")
_WHOLE_NUMBER_RE = re.compile(r"^\+?[\d\s\-]+[xX]?$")
_LATIN_RE = re.compile(r"^[a-z]+$")


@dataclass
class SearchRequest:
    text: str = ""
    record_type: str | None = None
    part: int | None = None
    year_from: int | None = None
    year_to: int | None = None
    grade: str | None = None
    secrecy: int | None = None
    customer_id: int | None = None
    project: str | None = None
    status: str | None = None
    sort: str = "relevance"  # "relevance" | "date"
    page: int = 1
    per_page: int = 20


@dataclass(frozen=True)
class Access:
    """What a user may see: records with secrecy <= max_secrecy in one of department_ids.

    ``department_ids=None`` means company-wide access (all departments, and records that belong
    to no department); otherwise records without a department are invisible.
    """

    max_secrecy: int
    department_ids: frozenset[int] | None

    def key(self) -> tuple:
        depts = None if self.department_ids is None else tuple(sorted(self.department_ids))
        return (int(self.max_secrecy), depts)


@dataclass
class Plan:
    query: wq.Query | None  # None: the text asked for nothing (match all)
    needles: list[str]  # normalised strings to highlight
    boost: list[wq.Query] | None = None  # optional field boosts, scored on the matches only
    #: texts of >= 3 characters the ``all`` Substring of ``query`` did NOT check (it gives every
    #: document holding their bigrams): the caller wraps the final query (with its filters) in
    #: :class:`Verified`, so only documents matching everything else are checked
    verify: tuple[str, ...] = ()


class Verified(wq.Query):
    """``required``, keeping the documents whose ``all_runs`` column value holds every one of
    ``texts`` (exact substrings of one run; see :class:`Substring`). Put outermost (around the
    filters too): the column is only read for documents that match everything else."""

    def __init__(self, required: wq.Query, texts):
        self.required = required
        self.texts = tuple(texts)
        self.boost = 1.0

    def __repr__(self):
        return f"Verified({self.required!r}, {self.texts!r})"

    def __eq__(self, other):
        return (other.__class__ is self.__class__ and self.required == other.required
                and self.texts == other.texts)

    def __hash__(self):
        return hash((self.required, self.texts))

    def is_leaf(self):
        return False

    def children(self):
        return [self.required]

    def estimate_size(self, ixreader):
        return self.required.estimate_size(ixreader)


def _or(qs: list[wq.Query]) -> wq.Query:
    return qs[0] if len(qs) == 1 else wq.Or(qs)


def _and(qs: list[wq.Query]) -> wq.Query:
    return qs[0] if len(qs) == 1 else wq.And(qs)


class Boosted(wq.Query):
    """``required``, scored with the optional ``boosts`` (each boost looked at only on the documents of ``required``)."""

    def __init__(self, required: wq.Query, boosts: list[wq.Query]):
        self.required = required
        self.boosts = list(boosts)
        self.boost = 1.0

    def __repr__(self):
        return f"Boosted({self.required!r}, {self.boosts!r})"

    def __eq__(self, other):
        return (other.__class__ is self.__class__ and self.required == other.required
                and self.boosts == other.boosts)

    def __hash__(self):
        return hash((self.required, tuple(self.boosts)))

    def is_leaf(self):
        return False

    def children(self):
        return [self.required] + self.boosts

    def estimate_size(self, ixreader):
        return self.required.estimate_size(ixreader)


def _word_query(w: str) -> wq.Query:
    """A Latin word: a pinyin key prefix, or the whole word in the text (name boosted).

    One letter is not a prefix: a twentieth of all names start with it (thousands of keys to
    expand in every segment, a second at 1M records, for hits nobody reads); it still matches a
    one-letter key or word exactly."""
    text = wq.AndMaybe(wq.Term(ALL_FIELD, w), wq.Term("name", w, boost=TEXT_FIELDS["name"]))
    if len(w) == 1:
        return wq.Or([wq.Term("name_py", w, boost=4.0), text])
    return wq.Or([wq.Prefix("name_py", w, boost=4.0), text])


def _text_part(part: QueryPart, needles: list[str], boosts: list[wq.Query],
               runs: list[str]) -> wq.Query | None:
    """The query a part must match; its field boosts go to ``boosts`` (scored on matches only).
    A run of >= 2 characters goes to ``runs`` (one Substring for all of them) and gives None."""
    needles.append(part.text)
    if part.kind == "word":
        return _word_query(part.terms[0])
    if part.kind == "prefix":
        c = part.terms[0]
        boosts.append(wq.Term(UNI_FIELD, "n" + c, boost=TEXT_FIELDS["name"]))
        return wq.Term(UNI_FIELD, c)
    run = part.text
    # boosts only order the matches: "all bigrams in the field" is close enough and skips the
    # position checks
    boosts.extend(Substring(f, run, boost=TEXT_FIELDS[f], exact=False) for f in SHORT_FIELDS)
    runs.append(run)
    return None


def _text_query(text: str, needles: list[str], boosts: list[wq.Query],
                runs: list[str] | None = None) -> wq.Query | None:
    """The parts of ``text``; with ``runs`` given, multi-character runs are left there for the
    caller's single Substring, else one is made here."""
    own = runs is None
    runs = [] if own else runs
    qs = [q for q in (_text_part(p, needles, boosts, runs) for p in query_terms(text))
          if q is not None]
    if own and runs:
        qs.append(Substring(ALL_FIELD, tuple(runs)))
    return _and(qs) if qs else None


def _number_query(num: str, needles: list[str], boosts: list[wq.Query]) -> wq.Query:
    q: wq.Query = wq.Term("nums", num, boost=10.0)
    if len(num) not in (4, 6, 11, 18) and num.isdigit():
        tq = _text_query(num, needles, boosts)
        if tq is not None:
            q = wq.Or([q, tq])
    return q


def plan_text(text: str) -> Plan:
    needles: list[str] = []
    boosts: list[wq.Query] = []
    text = unicodedata.normalize("NFKC", text or "").strip()
    if not text:
        return Plan(None, needles)
    if _WHOLE_NUMBER_RE.match(text):
        num = clean_number(text)
        if len(num) >= 4:
            return Plan(_number_query(num, needles, boosts), needles, _boost(boosts))
    qs: list[wq.Query] = []
    runs: list[str] = []  # every multi-character run of every text chunk: ONE Substring
    for chunk in text.split():
        low = chunk.lower()
        num = clean_number(low) if re.fullmatch(r"\d+x?", low) else ""
        if len(num) >= 4:
            qs.append(_number_query(num, needles, boosts))
        elif _CODE_RE.match(low) or _CUSTNO_RE.match(low):
            qs.append(wq.Prefix("code", normalise(low)))
        elif _LATIN_RE.match(low):
            needles.append(low)
            qs.append(_word_query(low))
        else:
            tq = _text_query(chunk, needles, boosts, runs)
            if tq is not None:
                qs.append(tq)
    verify: tuple[str, ...] = ()
    if runs:
        # bigrams only here; the exact check is left to the caller's Verified (outermost)
        qs.insert(0, Substring(ALL_FIELD, tuple(runs), exact=False, prefilter=True))
        verify = tuple(dict.fromkeys(r for r in runs if len(r) > 2))
    if not qs:
        return Plan(wq.NullQuery, needles)  # only punctuation: nothing can match
    return Plan(_and(qs), needles, _boost(boosts), verify)


def _boost(boosts: list[wq.Query]) -> list[wq.Query] | None:
    return boosts or None


class CachedFilter(wq.Query):
    """All of ``qs`` (exact-term filters, numeric ranges), as a sorted array of document
    numbers per leaf searcher: each filter's documents are computed once per leaf searcher (one
    commit) and kept in its result cache, their intersection too, so a query with filters walks
    an array (a few hundred documents) instead of intersecting posting lists and range unions
    document by document."""

    def __init__(self, qs: list[wq.Query]):
        self.qs = list(qs)
        self.boost = 1.0
        self._key = ("filter",) + tuple(repr(q) for q in self.qs)

    def __repr__(self):
        return f"CachedFilter({self.qs!r})"

    def __eq__(self, other):
        return other.__class__ is self.__class__ and self.qs == other.qs

    def __hash__(self):
        return hash(self._key)

    def is_leaf(self):
        return True

    def estimate_size(self, ixreader):
        return min(q.estimate_size(ixreader) for q in self.qs)

    def _ids(self, searcher, cache, key, q):
        ids = cache.get(key)
        if ids is None:
            from .execute import filter_ids  # (execute builds on this module)

            ids = array("i", filter_ids(q, searcher))
            cache.put(key, ids)
        return ids

    def doc_ids(self, searcher) -> array:
        """The sorted documents of a leaf searcher matching every filter (cached)."""
        cache = _leaf_cache(searcher)
        ids = cache.get(self._key)
        if ids is None:
            parts = sorted((self._ids(searcher, cache, ("filter", repr(q)), q) for q in self.qs),
                           key=len)
            if len(parts) == 1:
                ids = parts[0]
            else:
                common = set(parts[0])
                for p in parts[1:]:
                    common.intersection_update(p)
                    if not common:
                        break
                ids = array("i", sorted(common))
            cache.put(self._key, ids)
        return ids


def filter_query(req: SearchRequest) -> wq.Query | None:
    qs: list[wq.Query] = []
    if req.record_type:
        qs.append(wq.Term("record_type", normalise(req.record_type).strip()))
    if req.part is not None:
        qs.append(wq.Term("part", str(int(req.part))))
    if req.year_from is not None or req.year_to is not None:
        qs.append(wq.NumericRange("year", req.year_from, req.year_to))
    if req.grade:
        qs.append(wq.Term("grade", normalise(req.grade).strip()))
    if req.secrecy is not None:
        qs.append(wq.Term("secrecy", str(int(req.secrecy))))
    if req.customer_id is not None:
        qs.append(wq.Term("customer_id", str(int(req.customer_id))))
    if req.project:
        qs.append(wq.Term("project_key", normalise(req.project).strip()))
    if req.status:
        qs.append(wq.Term("status", normalise(req.status).strip()))
    return CachedFilter(qs) if qs else None


def permission_query(access: Access) -> wq.Query:
    if access.max_secrecy < 0:
        return wq.NullQuery
    levels = [wq.Term("secrecy", str(s)) for s in range(0, min(int(access.max_secrecy), 3) + 1)]
    q = _or(levels)
    if access.department_ids is not None:
        if not access.department_ids:
            return wq.NullQuery
        q = wq.And([q, _or([wq.Term("dept", str(int(d))) for d in sorted(access.department_ids)])])
    return q
