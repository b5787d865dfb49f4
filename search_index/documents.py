"""What the app hands to the index: one :class:`IndexDoc` per record, filled from the database."""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, datetime, time

from .analysis import (
    FIELD_SEPARATOR,
    archival_code_keys,
    clean_number,
    customer_no_keys,
    normalise,
    phone_id_keys,
    pinyin_keys,
)
from .schema import analyse


@dataclass
class IndexDoc:
    record_id: int
    customer_id: int
    archival_code: str
    customer_no: str
    customer_name: str
    customer_kind: str
    phones: list[str]
    id_number: str | None
    project: str
    unit: str
    address: str
    title: str
    record_type: str
    part: int
    year: int
    doc_date: date | None
    grade: str | None
    secrecy: int
    department_id: int | None
    status: str
    content: str
    updated_at: datetime


@dataclass
class CustomerDoc:
    """A customer as the index holds it, apart from its records, so that a customer with no
    record is found too (by name, pinyin, phone, ID number, 客户号)."""

    customer_id: int
    customer_no: str
    name: str
    phones: list[str]
    id_number: str | None
    department_id: int | None
    updated_at: datetime


#: The ``secrecy`` term of a customer document: no record permission query names it, so a
#: record search never meets a customer (and totals stay counts of records).
CUSTOMER_SECRECY = "customer"


def customer_rid(customer_id: int) -> str:
    """The unique key (``rid`` field) of a customer's document."""
    return f"c{int(customer_id)}"


def _key(value: object) -> str:
    return normalise(str(value)).strip() if value is not None else ""


def sort_timestamp(doc: IndexDoc) -> int:
    when = doc.doc_date
    if when is not None:
        return int(datetime.combine(when, time()).timestamp()) if not isinstance(when, datetime) \
            else int(when.timestamp())
    return int(doc.updated_at.timestamp())


@dataclass
class DocKeys:
    """The exact keys of one document, whatever the backend stores them in: what both the Whoosh
    fields and the PostgreSQL key array are made of (see :func:`document_keys`)."""

    #: the six text fields joined by the field separator (name first): bigrams, words, exact check
    joined: str
    #: the short fields (name, project, unit, address, title), for boosts and one-character queries
    short: list[str]
    nums: set[str]  # phones and ID number (analysis.phone_id_keys)
    codes: set[str]  # 档号 and 客户号 (archival_code_keys, customer_no_keys)
    text_codes: set[str]  # numbers and codes printed in the text, less those the fields hold
    pinyin: set[str]  # the name's pinyin keys


def _number_keys(phones, id_number) -> set[str]:
    nums: set[str] = set()
    for phone in phones or ():
        nums |= phone_id_keys(phone)
    if id_number:
        nums |= phone_id_keys(id_number)
    return nums


def document_keys(doc: IndexDoc | CustomerDoc) -> DocKeys:
    """The keys of a record or a customer: the one place both backends get them from."""
    nums = _number_keys(doc.phones, doc.id_number)
    if isinstance(doc, CustomerDoc):
        name = doc.name or ""
        return DocKeys(joined=name, short=[name, "", "", "", ""], nums=nums,
                       codes=customer_no_keys(doc.customer_no), text_codes=set(),
                       pinyin=pinyin_keys(name))
    codes = archival_code_keys(doc.archival_code) | customer_no_keys(doc.customer_no)
    short = [doc.customer_name or "", doc.project or "", doc.unit or "", doc.address or "",
             doc.title or ""]
    joined = FIELD_SEPARATOR.join(short + [doc.content or ""])
    # the text's numbers, less those the fields already hold (a form prints the customer's own
    # phone and ID number): a query looks in every field and scores the best, so nothing is lost
    text_codes = analyse(joined).codes - nums - codes
    return DocKeys(joined=joined, short=short, nums=nums, codes=codes, text_codes=text_codes,
                   pinyin=pinyin_keys(doc.customer_name))


def filter_key(value: object) -> str:
    """A filter field's value as both backends store and compare it."""
    return _key(value)


def to_fields(doc: IndexDoc) -> dict:
    """The Whoosh document (field name -> value) of one record."""
    k = document_keys(doc)
    content = doc.content or ""
    short, joined = k.short, k.joined
    fields = {
        "rid": str(doc.record_id),
        "all": joined,
        "all_runs": joined,  # the same object: analysed once (schema.analyse), sent once
        "text_codes": " ".join(sorted(k.text_codes)),
        "uni": FIELD_SEPARATOR.join(short),
        "name": short[0],
        "project": short[1],
        "unit": short[2],
        "address": short[3],
        "title": short[4],
        "content_z": zlib.compress(content.encode("utf-8"), 1) if content else b"",
        "name_py": " ".join(sorted(k.pinyin)),
        "nums": " ".join(sorted(k.nums)),
        "code": " ".join(sorted(k.codes)),
        "record_type": _key(doc.record_type),
        "part": str(doc.part),
        "year": int(doc.year),
        "grade": _key(doc.grade),
        "secrecy": str(int(doc.secrecy)),
        "dept": "none" if doc.department_id is None else str(int(doc.department_id)),
        "customer_id": str(doc.customer_id),
        "project_key": _key(doc.project),
        "status": _key(doc.status),
        "sort_date": sort_timestamp(doc),
    }
    return {k: v for k, v in fields.items() if v != ""}


def customer_fields(doc: CustomerDoc) -> dict:
    """The Whoosh document of one customer: the name as the only text."""
    k = document_keys(doc)
    name = k.joined
    fields = {
        "rid": customer_rid(doc.customer_id),
        "all": name, "all_runs": name, "uni": name, "name": name,
        "name_py": " ".join(sorted(k.pinyin)),
        "nums": " ".join(sorted(k.nums)),
        "code": " ".join(sorted(k.codes)),
        "secrecy": CUSTOMER_SECRECY,
        "dept": "none" if doc.department_id is None else str(int(doc.department_id)),
        "customer_id": str(doc.customer_id),
        "sort_date": int(doc.updated_at.timestamp()),
    }
    return {k: v for k, v in fields.items() if v != ""}


def fields_of(doc: IndexDoc | CustomerDoc) -> dict:
    """The Whoosh document of a record or a customer."""
    return customer_fields(doc) if isinstance(doc, CustomerDoc) else to_fields(doc)


__all__ = ["IndexDoc", "CustomerDoc", "DocKeys", "document_keys", "to_fields", "customer_fields", "fields_of", "clean_number"]
