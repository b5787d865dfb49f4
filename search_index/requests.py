"""What the app asks of the index and what it gets back: plain data, no Whoosh."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SearchRequest:
    """One search: free text (see :mod:`search_index.planning` for what it can hold), filters
    that must all hold (``None``: no filter), an order and a page."""

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
        """A hashable key of these rights (the index caches each one's documents)."""
        depts = None if self.department_ids is None else tuple(sorted(self.department_ids))
        return (int(self.max_secrecy), depts)


@dataclass
class Hit:
    """One record of a result page, with an HTML-safe snippet (matches in ``<mark>``)."""

    record_id: int
    score: float
    snippet: str


@dataclass
class SearchResult:
    """A page of hits and the exact number of records the user may see that match."""

    total: int
    page: int
    per_page: int
    hits: list[Hit] = field(default_factory=list)
