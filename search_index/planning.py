"""Query planning: a :class:`~search_index.requests.SearchRequest` -> a tree of query nodes.

Planning, per whitespace-separated chunk of the input (chunks are AND-ed):

* one number or code (:func:`analysis.query_code_keys`: ``G1234``, ``HT-2024-0012``,
  ``No.0051971``, ``0012``, a phone or ID number even spaced, a 档号 or a prefix of it, with or
  without dashes) -> exact keys in the ``nums`` (phones, ID), ``code`` (档号, 客户号) and
  ``text_codes`` (numbers and codes printed in the text) fields: the whole without joiners,
  digits alone also as a tail (``~1971``), a 档号 prefix (``^00012020``), and a 客户号 prefix
  (``C00004``). A document scores its best key (:class:`Best`), exact field matches first: a
  phone, ID, 档号 or 客户号 equal to the input, then a 档号 prefix, then the text's own number,
  then tails (fields, then text). Fewer than 4 digits (3 beside letters) -> text.
* Latin letters only -> pinyin keys (full and initials, prefix allowed) OR the word in the text.
* anything else -> each Han/digit run of two or more characters must be a substring of one of
  name, project, unit, address, title, content: ONE :class:`Substring` on the combined ``all``
  field (its bigrams, without positions), and the runs of three or more characters checked
  exactly on the ``all_runs`` column (:class:`Verified`, outermost, so only documents that
  match everything else are read). Field boosts (name highest) are an optional side
  (:class:`Boosted`) looked at only on the documents that matched. A single character must occur
  in one of the short fields (name, title, address, project, unit -- not the content, where it
  would match nearly every record): one term of the ``uni`` field.

Filters (record type, year range, ...) are one :class:`CachedFilter`; rights are
:func:`permission_query` (records) or :func:`customer_permission_query` (customers' own documents).

The tree is made of Whoosh's own queries (Term, Prefix, And, Or, AndMaybe, NumericRange) and the
five nodes here. They are Whoosh ``Query`` objects for the tree's sake (estimates, equality,
children) but have no matchers: :mod:`search_index.execute` evaluates the tree.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from whoosh import query as wq

from .analysis import CodeQuery, QueryPart, bigrams, normalise, query_code_keys, query_terms
from .documents import CUSTOMER_SECRECY
from .requests import Access, SearchRequest

TEXT_FIELDS: dict[str, float] = {
    "name": 6.0, "project": 3.0, "unit": 2.5, "address": 2.0, "title": 2.0, "content": 1.0,
}
SHORT_FIELDS = ("name", "project", "unit", "address", "title")
ALL_FIELD = "all"
RUNS_FIELD = "all_runs"
UNI_FIELD = "uni"

NUM_FIELD = "nums"
CODE_FIELD = "code"
TEXT_CODES_FIELD = "text_codes"

#: Scores of a number or code query's keys: exact field matches first (see the module docstring)
FIELD_EXACT = 10.0
CODE_PREFIX = 8.0
TEXT_EXACT = 6.0
FIELD_TAIL = 4.0
CUSTNO_PREFIX = 3.0
TEXT_TAIL = 2.0

_LATIN_RE = re.compile(r"^[a-z]+$")


# ---------------------------------------------------------------------------------------------
# the plan's own nodes


class Substring(wq.Query):
    """Each of ``text`` (normalised Han/digit runs of >= 2 characters; one string or a tuple
    of them, all required) is a substring of ``fieldname``.

    Two characters: one bigram term. Longer: every one of its bigrams present, then (``exact``)
    the text looked for in the document's ``all_runs`` column value (the Han/digit runs of the
    six fields joined by ``|``), which only the ``all`` field has. ``exact=False``: every bigram
    present, no check (boosts; or the ``all`` part of a plan whose :class:`Verified` checks).
    """

    def __init__(self, fieldname: str, text: str | Iterable[str], boost: float = 1.0,
                 exact: bool = True, prefilter: bool = False):
        self.fieldname = fieldname
        self.texts: tuple[str, ...] = (text,) if isinstance(text, str) else tuple(text)
        self.boost = boost
        self.exact = exact
        # the caller checks every text of >= 3 characters exactly (Verified), so the executor
        # may intersect only the bigrams that narrow the candidates enough to pay for themselves
        self.prefilter = prefilter and not exact

    def __repr__(self):
        return f"Substring({self.fieldname!r}, {self.texts!r}, boost={self.boost})"

    def __eq__(self, other):
        return (other.__class__ is self.__class__ and self.fieldname == other.fieldname
                and self.texts == other.texts and self.boost == other.boost
                and self.exact == other.exact and self.prefilter == other.prefilter)

    def __hash__(self):
        return hash((self.fieldname, self.texts, self.boost, self.exact, self.prefilter))

    def bigram_terms(self) -> list[bytes]:
        """The distinct bigrams of every text, as index terms (UTF-8), in order."""
        return list(dict.fromkeys(g.encode("utf-8") for t in self.texts for g in bigrams(t)))

    def estimate_size(self, ixreader) -> int:
        fn = self.fieldname
        return min((ixreader.doc_frequency(fn, b) for b in self.bigram_terms()), default=0)


class Verified(wq.Query):
    """``required``, keeping the documents whose ``all_runs`` column value holds every one of
    ``texts`` (exact substrings of one run; see :class:`Substring`). Put outermost (around the
    filters too): the column is only read for documents that match everything else."""

    def __init__(self, required: wq.Query, texts: Iterable[str]):
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

    def estimate_size(self, ixreader) -> int:
        return self.required.estimate_size(ixreader)


class Boosted(wq.Query):
    """``required``, scored with the optional ``boosts``: a document's score is its score in
    ``required`` plus that of every boost that holds it. The boosts are only looked at on the
    documents of ``required``."""

    def __init__(self, required: wq.Query, boosts: Iterable[wq.Query]):
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

    def estimate_size(self, ixreader) -> int:
        return self.required.estimate_size(ixreader)


class Best(wq.Query):
    """Any of ``qs``; a document scores the best of the parts holding it (not their sum: a
    number printed once must not outrank another for also matching as its own tail)."""

    def __init__(self, qs: Iterable[wq.Query]):
        self.qs = list(qs)
        self.boost = 1.0

    def __repr__(self):
        return f"Best({self.qs!r})"

    def __eq__(self, other):
        return other.__class__ is self.__class__ and self.qs == other.qs

    def __hash__(self):
        return hash(tuple(self.qs))

    def is_leaf(self):
        return False

    def children(self):
        return list(self.qs)

    def estimate_size(self, ixreader) -> int:
        return sum(q.estimate_size(ixreader) for q in self.qs)


class CachedFilter(wq.Query):
    """All of ``qs`` (exact-term filters, numeric ranges); each scores 1.0.

    The executor keeps each filter's documents, and their intersection, as a sorted array per
    leaf searcher (``key`` names it): a query with filters then walks an array of a few hundred
    documents instead of intersecting posting lists and range unions again."""

    def __init__(self, qs: Iterable[wq.Query]):
        self.qs = list(qs)
        self.boost = 1.0
        self.key = ("filter",) + tuple(repr(q) for q in self.qs)

    def __repr__(self):
        return f"CachedFilter({self.qs!r})"

    def __eq__(self, other):
        return other.__class__ is self.__class__ and self.qs == other.qs

    def __hash__(self):
        return hash(self.key)

    def estimate_size(self, ixreader) -> int:
        return min(q.estimate_size(ixreader) for q in self.qs)


# ---------------------------------------------------------------------------------------------
# text -> plan


@dataclass
class Plan:
    """The planned free text of a request."""

    query: wq.Query | None  # None: the text asked for nothing (match all)
    needles: list[str]  # normalised strings to highlight
    boost: list[wq.Query] | None = None  # optional field boosts, scored on the matches only
    #: texts of >= 3 characters the ``all`` Substring of ``query`` did NOT check (it gives every
    #: document holding their bigrams): the caller wraps the final query (with its filters) in
    #: :class:`Verified`, so only documents matching everything else are checked
    verify: tuple[str, ...] = ()


def plan_text(text: str) -> Plan:
    """Plan the free text of a request (see the module docstring)."""
    needles: list[str] = []
    boosts: list[wq.Query] = []
    text = unicodedata.normalize("NFKC", text or "").strip()
    if not text:
        return Plan(None, needles)
    whole = query_code_keys(text)  # one number, spaces allowed (``138 0013 8000``)
    if whole is not None:
        return Plan(code_query(whole, needles), needles)
    qs: list[wq.Query] = []
    runs: list[str] = []  # every multi-character run of every text chunk: ONE Substring
    for chunk in text.split():
        low = chunk.lower()
        cq = query_code_keys(low)
        if cq is not None:
            qs.append(code_query(cq, needles))
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
    return Plan(_and(qs), needles, boosts or None, verify)


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
    # boosts only order the matches: "all bigrams in the field" is close enough and needs no
    # exact check
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


def code_query(cq: CodeQuery, needles: list[str]) -> wq.Query:
    """The keys of a number or code query, each scored by where and how it matched."""
    needles.append(cq.text)
    qs: list[wq.Query] = []
    for k in cq.exact:
        qs += [wq.Term(NUM_FIELD, k, boost=FIELD_EXACT), wq.Term(CODE_FIELD, k, boost=FIELD_EXACT),
               wq.Term(TEXT_CODES_FIELD, k, boost=TEXT_EXACT)]
    qs += [wq.Term(CODE_FIELD, p, boost=CODE_PREFIX) for p in cq.prefixes]
    if cq.tail:
        qs += [wq.Term(NUM_FIELD, cq.tail, boost=FIELD_TAIL),
               wq.Term(CODE_FIELD, cq.tail, boost=FIELD_TAIL),
               wq.Term(TEXT_CODES_FIELD, cq.tail, boost=TEXT_TAIL)]
    if cq.custno_prefix:
        qs.append(wq.Prefix(CODE_FIELD, cq.custno_prefix, boost=CUSTNO_PREFIX))
    return Best(qs)


def _or(qs: list[wq.Query]) -> wq.Query:
    return qs[0] if len(qs) == 1 else wq.Or(qs)


def _and(qs: list[wq.Query]) -> wq.Query:
    return qs[0] if len(qs) == 1 else wq.And(qs)


# ---------------------------------------------------------------------------------------------
# filters and rights


def filter_query(req: SearchRequest) -> wq.Query | None:
    """The request's filters as one :class:`CachedFilter`, or None if it has none."""
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


def customer_permission_query(access: Access | None) -> wq.Query:
    """The customer documents ``access`` may see (None: all of them): customers are seen by
    department alone (no 密级), as ``policy.visible_customers`` says."""
    q = wq.Term("secrecy", CUSTOMER_SECRECY)
    if access is None:
        return q
    if access.max_secrecy < 0:
        return wq.NullQuery
    if access.department_ids is not None:
        if not access.department_ids:
            return wq.NullQuery
        q = wq.And([q, _or([wq.Term("dept", str(int(d))) for d in sorted(access.department_ids)])])
    return q


def permission_query(access: Access) -> wq.Query:
    """The documents ``access`` may see (``wq.NullQuery``: none)."""
    if access.max_secrecy < 0:
        return wq.NullQuery
    levels = [wq.Term("secrecy", str(s)) for s in range(min(int(access.max_secrecy), 3) + 1)]
    q = _or(levels)
    if access.department_ids is not None:
        if not access.department_ids:
            return wq.NullQuery
        q = wq.And([q, _or([wq.Term("dept", str(int(d))) for d in sorted(access.department_ids)])])
    return q
