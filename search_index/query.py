"""Search requests, access rights and query planning (text -> Whoosh query).

Planning, per whitespace-separated chunk of the input (chunks are AND-ed):

* digits only (spaces, dashes, ``+86`` allowed when the whole input is a number), at least 4, or
  an 18-character ID ending in X -> the ``nums`` field: 4 digits = last 4 of a phone/ID, 6 = last
  6, 11 = a full mobile number, 18 = a full ID number (other lengths: exact number, or a phrase in
  the text). Fewer than 4 digits -> text.
* 档号-looking input (``0001-2026-D30-C000042-3-0007`` or a prefix such as ``0001-2026-D30``),
  or a customer number (``C000042``) -> prefix on the ``code`` field.
* Latin letters only -> pinyin keys (full and initials, prefix allowed) OR the word in the text.
* anything else -> each Han/digit run a phrase of bigrams (an exact substring) over name, title,
  address, project, unit and content with boosts (name highest); a single character is a prefix
  over the short fields (name, title, address, project, unit) -- not over the content, where one
  character would expand to thousands of bigrams and match nearly every record.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from whoosh import query as wq

from .analysis import QueryPart, clean_number, normalise, query_terms

TEXT_FIELDS: dict[str, float] = {
    "name": 6.0, "project": 3.0, "unit": 2.5, "address": 2.0, "title": 2.0, "content": 1.0,
}
SHORT_FIELDS = ("name", "project", "unit", "address", "title")

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


def _or(qs: list[wq.Query]) -> wq.Query:
    return qs[0] if len(qs) == 1 else wq.Or(qs)


def _and(qs: list[wq.Query]) -> wq.Query:
    return qs[0] if len(qs) == 1 else wq.And(qs)


def _text_part(part: QueryPart, needles: list[str]) -> wq.Query:
    needles.append(part.text)
    if part.kind == "word":
        w = part.terms[0]
        return wq.Or([wq.Prefix("name_py", w, boost=4.0)]
                     + [wq.Term(f, w, boost=b) for f, b in TEXT_FIELDS.items()])
    if part.kind == "prefix":
        c = part.terms[0]
        return wq.Or([wq.Prefix(f, c, boost=TEXT_FIELDS[f]) for f in SHORT_FIELDS])
    terms = list(part.terms)
    if len(terms) == 1:
        return wq.Or([wq.Term(f, terms[0], boost=b) for f, b in TEXT_FIELDS.items()])
    return wq.Or([wq.Phrase(f, terms, boost=b) for f, b in TEXT_FIELDS.items()])


def _text_query(text: str, needles: list[str]) -> wq.Query | None:
    parts = query_terms(text)
    if not parts:
        return None
    return _and([_text_part(p, needles) for p in parts])


def _number_query(num: str, needles: list[str]) -> wq.Query:
    q: wq.Query = wq.Term("nums", num, boost=10.0)
    if len(num) not in (4, 6, 11, 18) and num.isdigit():
        tq = _text_query(num, needles)
        if tq is not None:
            q = wq.Or([q, tq])
    return q


def plan_text(text: str) -> Plan:
    needles: list[str] = []
    text = unicodedata.normalize("NFKC", text or "").strip()
    if not text:
        return Plan(None, needles)
    if _WHOLE_NUMBER_RE.match(text):
        num = clean_number(text)
        if len(num) >= 4:
            return Plan(_number_query(num, needles), needles)
    qs: list[wq.Query] = []
    for chunk in text.split():
        low = chunk.lower()
        num = clean_number(low) if re.fullmatch(r"\d+x?", low) else ""
        if len(num) >= 4:
            qs.append(_number_query(num, needles))
        elif _CODE_RE.match(low) or _CUSTNO_RE.match(low):
            qs.append(wq.Prefix("code", normalise(low)))
        elif _LATIN_RE.match(low):
            needles.append(low)
            qs.append(wq.Or([wq.Prefix("name_py", low, boost=4.0)]
                            + [wq.Term(f, low, boost=b) for f, b in TEXT_FIELDS.items()]))
        else:
            tq = _text_query(chunk, needles)
            if tq is not None:
                qs.append(tq)
    if not qs:
        return Plan(wq.NullQuery, needles)  # only punctuation: nothing can match
    return Plan(_and(qs), needles)


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
    return _and(qs) if qs else None


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
