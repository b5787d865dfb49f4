"""Keep the search index in step with the database and answer searches with the access policy.

The index is derived: every document is built from database rows (record, customer, extracted
page text), written after the database commit, and can be rebuilt at any time (`archive reindex`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable, Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.audit import log as audit
from archive_app.borrowing import loans
from archive_app.errors import StorageFailed, ValidationFailed, in_range
from archive_app.i18n import _
from archive_app.intake.models import ERASED_NAME, Customer, FilePage, Record, RecordFile
from search_index import (  # noqa: F401
    Access,
    CustomerDoc,
    IndexBusy,
    IndexDamaged,
    IndexDoc,
    SearchIndex,
    SearchRequest,
    SearchResult,
)

log = logging.getLogger(__name__)


def _content(record: Record) -> str:
    pages = [p.text for f in record.files for p in f.pages if p.text]
    return "\f".join(pages)


def _doc(r, c, content: str) -> IndexDoc:
    """The index document from a record ``r`` and its customer ``c`` (ORM objects or one joined row)."""
    return IndexDoc(
        record_id=r.id, customer_id=r.customer_id, archival_code=r.archival_code, customer_no=c.customer_no or "",
        customer_name=c.name, customer_kind=c.kind, phones=[p for p in (c.phones or "").split(",") if p],
        id_number=c.id_number, project=c.project, unit=c.unit, address=c.address, title=r.title,
        record_type=r.record_type, part=r.part, year=r.year, doc_date=r.doc_date,
        grade=c.grade, secrecy=r.secrecy, department_id=c.department_id, status=r.status,
        content=content, updated_at=r.updated_at)


def index_doc(record: Record) -> IndexDoc:
    """The index document of a record, from its rows."""
    return _doc(record, record.customer, _content(record))


def customer_doc(c) -> CustomerDoc:
    """The index document of a customer apart from its records (a Customer or a row of its columns)."""
    return CustomerDoc(customer_id=c.id, customer_no=c.customer_no or "", name=c.name,
                       phones=[p for p in (c.phones or "").split(",") if p], id_number=c.id_number,
                       department_id=c.department_id, updated_at=c.updated_at)


def reindex_customers(session: Session, index: SearchIndex, customer_ids: Iterable[int]) -> int:
    """Write customers' own documents; customers gone or erased by destruction leave the index."""
    ids = set(customer_ids)
    if not ids:
        return 0
    live = [c for c in session.scalars(select(Customer).where(Customer.id.in_(sorted(ids)))) if not c.erased]
    index.add_or_update(customer_doc(c) for c in live)
    gone = ids - {c.id for c in live}
    if gone:
        index.delete_customers(gone)
    return len(live)


def _load(session: Session, record_ids: Iterable[int]) -> list[Record]:
    # Destroyed records (tombstones) leave the index: they count as gone.
    stmt = (select(Record).where(Record.id.in_(list(record_ids)), Record.status != "destroyed")
            .options(selectinload(Record.customer), selectinload(Record.files).selectinload(RecordFile.pages))
            .order_by(Record.id))
    return list(session.scalars(stmt))


def reindex_records(session: Session, index: SearchIndex, record_ids: Iterable[int]) -> int:
    """Write the current state of these records to the index; records gone are removed."""
    ids = list(record_ids)
    records = _load(session, ids)
    index.add_or_update(index_doc(r) for r in records)
    missing = set(ids) - {r.id for r in records}
    if missing:
        index.delete(missing)
    return len(records)


def reindex_customer(session: Session, index: SearchIndex, customer_id: int) -> int:
    """Customer fields are in every record's document: refresh them all (and the customer's own
    document) after a customer change."""
    return refresh(session, index, [], [customer_id])


def refresh(session: Session, index: SearchIndex, record_ids: Iterable[int], customer_ids: Iterable[int]) -> int:
    """Re-index records, the given customers and every record of theirs (the index job's body)."""
    ids = set(record_ids)
    if customer_ids:
        ids |= set(session.scalars(select(Record.id).where(Record.customer_id.in_(list(customer_ids)))))
        reindex_customers(session, index, customer_ids)
    return reindex_records(session, index, sorted(ids)) if ids else 0


FILTERS = ("record_type", "part", "year_from", "year_to", "grade", "secrecy", "customer_id", "project", "status")
INT_FILTERS = {"part", "year_from", "year_to", "secrecy", "customer_id"}
# Years, parts, 密级, customer ids and pages all fit in 32 bits; a larger number is no filter of ours.
MAX_FILTER = 2**31 - 1


# The longest search text looked for; the form stops typing there, a longer one (pasted, or a link) is cut.
MAX_QUERY_CHARS = 200


def query_too_long(args: Mapping[str, str]) -> bool:
    """Whether the search text given is longer than what is looked for (the page says so)."""
    return len((args.get("q") or "").strip()) > MAX_QUERY_CHARS


def search_request_from(args: Mapping[str, str]) -> SearchRequest:
    """Build a SearchRequest from query-string arguments (shared by the page and the API)."""
    values: dict = {}
    for key in FILTERS:
        raw = (args.get(key) or "").strip()
        if not raw:
            continue
        if key in INT_FILTERS:
            try:
                values[key] = int(raw)
            except ValueError:
                raise ValidationFailed(_("筛选条件格式不正确：%(key)s", key=key), code="invalid_filter") from None
            in_range(values[key], _("筛选条件 %(key)s", key=key), minimum=0, maximum=MAX_FILTER)
        else:
            values[key] = raw
    sort = args.get("sort", "relevance")
    if sort not in ("relevance", "date"):
        raise ValidationFailed(_("排序方式须为 relevance 或 date"), code="invalid_sort")
    try:
        page = max(int(args.get("page", 1)), 1)
        per_page = min(max(int(args.get("per_page", 20)), 1), 100)
    except ValueError:
        raise ValidationFailed(_("分页参数格式不正确"), code="invalid_page") from None
    in_range(page, _("页码"), maximum=MAX_FILTER)
    return SearchRequest(text=(args.get("q") or "").strip()[:MAX_QUERY_CHARS], sort=sort, page=page, per_page=per_page,
                             **values)


def access_for(user: User) -> Access | None:
    """The search filter for a user, from the one access policy (None: sees nothing)."""
    scope = policy.record_scope(user)
    if scope is None:
        return None
    max_secrecy, departments = scope
    return Access(max_secrecy=max_secrecy, department_ids=departments)


#: How many matching customers a search shows above its records.
CUSTOMERS_SHOWN = 5


@dataclass
class Found:
    """A page of search results with the rows the hits point to, and the customers the text
    names (shown above the records, whether or not they have any)."""

    result: SearchResult
    records: dict[int, Record]
    customers: list[Customer] = field(default_factory=list)


def search_records(session: Session, index: SearchIndex, user: User, request: SearchRequest, *,
                   now: datetime, ip: str = "") -> Found:
    """Search as a user: the permission filter is part of the index query (counts and pages too).

    Customers whose name (Han or pinyin), phone, ID number or 客户号 match the text come in
    ``customers`` (at most ``CUSTOMERS_SHOWN``), under ``customer.view``, records or none.

    A hit shows the record's metadata to whoever may view it; its snippet (words of its text) only
    to whoever may read the record's content at ``now`` (``record.read``: for business staff, under
    an approved borrowing request whose window is open). Otherwise the snippet is empty, so
    searching again and again cannot walk through a document nobody lent.

    Every search is written to the audit log (``search.run``: the query, filters and hit count).
    """
    access = access_for(user)
    if access is None:
        found = Found(SearchResult(total=0, page=request.page, per_page=request.per_page, hits=[]), {})
        _audit_search(session, user, request, found, ip, now)
        return found
    try:
        result = index.search(request, access)
        customer_ids = index.search_customers(request.text, access, limit=CUSTOMERS_SHOWN) \
            if request.text.strip() else []
    except IndexDamaged as exc:
        log.error("search index damaged: %s", exc)
        raise StorageFailed(_("搜索索引已损坏，请联系管理员运行 archive reindex 重建索引"), code="index_damaged") from None
    # The hits' rows without their files and pages: the list shows metadata, and every page's text
    # (what indexing loads) would be most of the search's time.
    rows = session.scalars(select(Record).where(Record.id.in_([h.record_id for h in result.hits]),
                                                Record.status != "destroyed")
                           .options(selectinload(Record.customer)))
    # Belt and braces: the database decides again; a stale index entry never shows a record.
    records = {r.id: r for r in rows if policy.can(user, "record.view", r)}
    result.hits = [h for h in result.hits if h.record_id in records]
    granted = loans.granted_record_ids(session, user, records, "view", now)
    for hit in result.hits:
        if not policy.can(user, "record.read", records[hit.record_id], lambda r, _action: r.id in granted):
            hit.snippet = ""
    found = Found(result, records, _customers(session, user, customer_ids))
    _audit_search(session, user, request, found, ip, now)
    return found


def _customers(session: Session, user: User, ids: list[int]) -> list[Customer]:
    """The customers of ``ids`` (the index's, best first) that the user may see."""
    if not ids:
        return []
    rows = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(ids)))}
    # the database decides again, as for records: a stale index entry never shows a customer
    return [rows[i] for i in ids if i in rows and not rows[i].erased and policy.can(user, "customer.view", rows[i])]


def customer_hit(c: Customer, viewer: User) -> dict:
    """A customer as a search lists it to ``viewer`` (phones and ID number whole for whoever handles the
    customer, masked otherwise; see ``openapi.SearchCustomer``)."""
    shown = policy.shown_personal(viewer, c)
    return {"id": c.id, "customer_no": c.customer_no or "", "name": c.name, "kind": c.kind,
            "project": c.project or "", "unit": c.unit or "", "phones": shown.phones, "id_number": shown.id_number}


def _audit_search(session: Session, user: User, request: SearchRequest, found: Found, ip: str,
                  now: datetime) -> None:
    filters = {k: getattr(request, k) for k in FILTERS if getattr(request, k) is not None}
    audit.record_read(session, "search.run", actor=user, object_type="search", ip=ip, now=now,
                       details={"filters": filters, "sort": request.sort,
                                "page": request.page, "total": found.result.total,
                                "records": [h.record_id for h in found.result.hits],
                                "customers": [c.id for c in found.customers]},
                       # Queries carry customers' names and ID numbers: erasable, outside the chain.
                       personal={"query": request.text} if request.text else None)
    session.flush()


def load_index_docs(session: Session, after: int, limit: int) -> tuple[list[IndexDoc], list[int]]:
    """The index documents of the next ``limit`` records with id > ``after`` (id order), and the
    ids looked at (empty: no more records).

    The same documents as :func:`index_doc` over :func:`_load` (destroyed records left out,
    pages joined by form feeds in file then page order), read with plain SELECTs instead of
    ORM objects and their relationships: a quarter of the CPU per record (measured 0.07 vs
    0.30 ms), which a million-record rebuild pays a million times.
    """
    r = Record.__table__
    ids = list(session.scalars(select(r.c.id).where(r.c.id > after).order_by(r.c.id).limit(limit)))
    if not ids:
        return [], ids
    return _docs(session, lambda col: col.between(ids[0], ids[-1])), ids


def _docs(conn, where: Callable) -> list[IndexDoc]:
    """The documents of the records whose id satisfies ``where(column)`` (a session or a
    connection: Core statements only, so it also runs inside a flush)."""
    r, c = Record.__table__, Customer.__table__
    f, p = RecordFile.__table__, FilePage.__table__
    rows = conn.execute(
        select(r.c.id, r.c.customer_id, r.c.archival_code, r.c.title, r.c.record_type, r.c.part,
               r.c.year, r.c.doc_date, r.c.secrecy, r.c.status, r.c.updated_at, c.c.customer_no,
               c.c.name, c.c.kind, c.c.phones, c.c.id_number, c.c.project, c.c.unit, c.c.address,
               c.c.grade, c.c.department_id)
        .join(c, c.c.id == r.c.customer_id)
        .where(where(r.c.id), r.c.status != "destroyed").order_by(r.c.id)).all()
    pages: dict[int, list[str]] = {}
    for rid, text in conn.execute(
            select(f.c.record_id, p.c.text).join(p, p.c.file_id == f.c.id)
            .where(where(f.c.record_id))
            .order_by(f.c.record_id, f.c.id, p.c.page_no)):
        if text:
            pages.setdefault(rid, []).append(text)
    return [_doc(row, row, "\f".join(pages.get(row.id, ()))) for row in rows]


def refresh_rows(conn, index, record_ids: Iterable[int], customer_ids: Iterable[int]) -> int:
    """:func:`refresh` with Core statements on ``conn``, writing ``index`` on that connection:
    what a flush runs on ARCHIVE_SEARCH_BACKEND=postgres (see index_feed), where ORM loads are
    not allowed. Returns how many records were written."""
    index = index.on(conn)
    ids = set(record_ids)
    customer_ids = sorted(set(customer_ids))
    if customer_ids:
        r, c = Record.__table__, Customer.__table__
        ids |= set(conn.execute(select(r.c.id).where(r.c.customer_id.in_(customer_ids))).scalars())
        live = conn.execute(select(c.c.id, c.c.customer_no, c.c.name, c.c.phones, c.c.id_number,
                                   c.c.department_id, c.c.updated_at)
                            .where(c.c.id.in_(customer_ids), c.c.name != ERASED_NAME)).all()
        index.add_or_update(customer_doc(row) for row in live)
        gone = set(customer_ids) - {row.id for row in live}
        if gone:
            index.delete_customers(gone)
    if not ids:
        return 0
    wanted = sorted(ids)
    docs = _docs(conn, lambda col: col.in_(wanted))
    index.add_or_update(docs)
    missing = ids - {d.record_id for d in docs}
    if missing:
        index.delete(missing)
    return len(docs)


def rebuild_index(session: Session, index: SearchIndex, *, batch: int = 1000, resume: bool = False,
                  progress: Callable[[int, int], None] | None = None, commit_every: int | None = None,
                  procs: int = 1, limitmb: int = 400) -> int:
    """Rebuild every record's document in id order, batch by batch (bounded memory).

    The index writer commits every ``commit_every`` documents (default 100,000: few segments keep
    queries fast) and records a checkpoint; with ``resume`` an interrupted rebuild continues
    after it instead of starting again. Memory stays bounded by the writer's pool size
    (``limitmb`` per writer process -- 400 MB: ~50,000 records a segment, ~500 MB RSS per writer;
    ``procs`` > 1 indexes in that many child processes while this one reads the database).
    """
    last = index.reindex_checkpoint() if resume else None
    if last is None:
        index.clear()
        last = 0
    total = session.scalar(select(func.count(Record.id))) or 0
    done = session.scalar(select(func.count(Record.id)).where(Record.id <= last)) or 0
    with index.bulk_writer(commit_every=commit_every or 100_000, procs=procs,
                           limitmb=limitmb) as writer:
        while True:
            docs, ids = load_index_docs(session, last, batch)
            if not ids:
                break
            writer.add(docs)
            done += len(ids)
            last = ids[-1]
            if progress:
                progress(done, total)
    _rebuild_customers(session, index, batch, procs=procs, limitmb=limitmb)
    return done


def _rebuild_customers(session: Session, index: SearchIndex, batch: int, *, procs: int, limitmb: int) -> int:
    """Every customer's own document, after the records. Customer documents a resumed rebuild
    wrote before are removed first, so none is written twice."""
    c = Customer.__table__
    index.delete_all_customers()
    n, last = 0, 0
    with index.bulk_writer(commit_every=100_000, procs=procs, limitmb=limitmb) as writer:
        while True:
            rows = session.execute(select(c.c.id, c.c.customer_no, c.c.name, c.c.phones, c.c.id_number,
                                          c.c.department_id, c.c.updated_at)
                                   .where(c.c.id > last, c.c.name != ERASED_NAME).order_by(c.c.id).limit(batch)).all()
            if not rows:
                break
            writer.add(customer_doc(r) for r in rows)
            n += len(rows)
            last = rows[-1].id
    return n


__all__ = ["index_doc", "customer_doc", "reindex_records", "reindex_customer", "reindex_customers", "refresh",
           "access_for", "search_request_from", "search_records", "rebuild_index", "load_index_docs", "refresh_rows",
           "Found"]
