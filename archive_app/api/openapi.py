"""Build the OpenAPI document from what the endpoints declare when they register."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from archive_app.vocabulary import (
    BUSINESS_TYPES,
    GRADES,
    MAX_PAGE,
    MAX_ROW_ID,
    PARTS,
    RECORD_TYPE_CODES,
    RECORD_TYPES,
    ROLE_LABELS,
    SECRECY_LEVELS,
)


@dataclass
class Operation:
    path: str  # Flask rule, e.g. /customers/<int:customer_id>
    method: str
    summary: str
    body: str | None = None  # the name of its request body's schema in SCHEMAS
    responses: dict[int, str] = field(default_factory=dict)
    query: dict[str, dict[str, Any]] | None = None  # query parameters: name -> JSON schema
    endpoint: str = ""
    response: str | None = None  # the name of its success body's schema in SCHEMAS, where declared


OPERATIONS: list[Operation] = []


def document(path: str, method: str, summary: str, body: str | None = None,
             responses: dict[int, str] | None = None, query: dict[str, dict[str, Any]] | None = None,
             response: str | None = None) -> Callable:
    """Declare an endpoint's OpenAPI entry next to its code."""

    def wrap(fn: Callable) -> Callable:
        for name in (body, response):
            if name is not None and name not in SCHEMAS:
                raise ValueError(f"{path}: no schema named {name!r}")
        declared = responses or {200: "OK"}
        if not any(code < 300 for code in declared):
            declared = {200: "OK", **declared}
        OPERATIONS.append(Operation(path, method.lower(), summary, body, declared, query, fn.__name__, response))
        return fn

    return wrap


def openapi_path(rule: str) -> str:
    """/customers/<int:customer_id> -> /customers/{customer_id}"""
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


# Every id in a path or query is at least 1 and fits the id columns (as http.RowIdConverter demands).
ROW_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID}
PAGE = {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}
# No database keeps a NUL character (PostgreSQL refuses it): text carrying one is refused (400 invalid_text).
NO_NUL = "^[^\\x00]*$"
DATE = {"type": "string", "format": "date"}


def text(max_length: int | None = None, *, required: bool = False) -> dict[str, Any]:
    """A free-text field: no NUL character, at most ``max_length`` characters, something besides blanks if required."""
    schema: dict[str, Any] = {"type": "string", "pattern": "^[^\\x00]*[^\\x00\\s][^\\x00]*$" if required else NO_NUL}
    if max_length is not None:
        schema["maxLength"] = max_length
    return schema


def query(**params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Query parameters of one operation, by name (all optional)."""
    return params


ERROR_SCHEMA = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string", "description": "stable machine-readable code"},
        "message": {"type": "string", "description": "human-readable message (简体中文)"},
        "details": {"type": "object"}}}},
}
# The refusals any operation may answer with; an operation declares its own others.
COMMON_ERRORS = {400: "invalid input (error.code says which)", 401: "not signed in / no valid token",
                 403: "not allowed", 404: "not found, or not visible to the caller (answered alike)",
                 503: "storage, database or search index unavailable"}
PHONES = {"type": "string", "pattern": "^\\+?[0-9]{5,20}(,\\+?[0-9]{5,20})*$",
          "description": "comma-separated phone numbers (5-20 digits each, optional +)"}
# A person's 18-digit 居民身份证号 (check digit included) or a company's 统一社会信用代码: which one
# depends on ``kind``, so the two are declared as alternatives of the whole body.
RESIDENT_ID = {"type": "string", "format": "cn-resident-id", "pattern": "^[0-9]{17}[0-9X]$",
               "description": "18-digit 居民身份证号 whose ISO 7064 check digit is right"}
CREDIT_CODE = {"type": "string", "pattern": "^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$",
               "description": "18-character 统一社会信用代码"}
CUSTOMER_FIELDS: dict[str, Any] = {
    "name": text(200, required=True), "phones": {**PHONES, "maxLength": 200},
    "business_type": {"type": "string", "enum": list(BUSINESS_TYPES)},
    "grade": {"type": ["string", "null"], "enum": [*GRADES, None]},
    "consultant_id": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_ROW_ID,
                      "description": "an existing user"},
    "department": {**text(100), "description": "department name (created if new)"},
    "project": text(100), "unit": text(100), "address": text(300), "notes": text(20_000),
    "deal_closed_on": {**DATE, "description": "成交日期"}, "contract_ended_on": {**DATE, "description": "合同终止日期"},
    "last_contact_on": {**DATE, "description": "最后联系日期"},
}


def _customer(required: list[str], *, pair: bool, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A customer body: a person (kind absent or person, resident ID) or a company (credit code).

    ``pair``: a change sends kind and id_number together, so the number is checked against its kind.
    """
    variants = []
    # A change leaves the grade alone: it moves through the grade history (POST /customers/{id}/grades).
    fields = {k: v for k, v in CUSTOMER_FIELDS.items() if not (pair and k == "grade")}
    for kind, number in (("person", RESIDENT_ID), ("company", CREDIT_CODE)):
        variant: dict[str, Any] = {
            "type": "object", "additionalProperties": False, "required": required + (["kind"] if pair else []),
            "properties": {"kind": {"type": "string", "enum": [kind]}, "id_number": number, **fields,
                           **(extra or {})}}
        if kind == "company" and not pair:
            variant["required"] = [*required, "kind"]
        if pair:
            variant["dependentRequired"] = {"kind": ["id_number"]}
        variants.append(variant)
    if pair:
        # Or neither kind nor id_number: the other fields alone.
        variants.append({"type": "object", "additionalProperties": False, "required": required,
                         "properties": {**fields, **(extra or {})}, "not": {"anyOf": [{"required": ["kind"]},
                                                                              {"required": ["id_number"]}]}})
    return {"oneOf": variants}


SCHEMAS: dict[str, Any] = {
    "Error": ERROR_SCHEMA,
    "CustomerInput": _customer(["name"], pair=False),
    # An archivist's direct correction: the reason goes into the change history (变更记录).
    "CustomerChange": _customer(["reason"], pair=True, extra={"reason": text(2000, required=True)}),
    # A change request (客户数据变更申请): the fields to change (the customer's own, less grade, consultant
    # and department) and why; kind and id_number are checked together against the customer's.
    "ChangeRequestInput": {"type": "object", "additionalProperties": False, "required": ["changes", "reason"],
                           "properties": {"reason": text(2000, required=True), "changes": {
                               "type": "object", "additionalProperties": False, "minProperties": 1,
                               "properties": {
                                   "kind": {"type": "string", "enum": ["person", "company"]},
                                   "id_number": {"anyOf": [RESIDENT_ID, CREDIT_CODE]},
                                   **{k: v for k, v in CUSTOMER_FIELDS.items()
                                      if k not in ("grade", "consultant_id", "department")}}}}},
    "ChangeDecision": {"type": "object", "additionalProperties": False, "properties": {"note": text(2000)}},
    "ChangeRejection": {"type": "object", "additionalProperties": False, "required": ["note"],
                        "properties": {"note": text(2000, required=True)}},
    "VerificationInput": {"type": "object", "additionalProperties": False, "properties": {"note": text(2000)}},
    "RecordChange": {"type": "object", "additionalProperties": False, "properties": {
        "record_type": {"type": "string", "enum": list(RECORD_TYPES)},
        "part": {"type": "integer", "enum": list(PARTS)}, "title": text(300, required=True),
        "doc_date": DATE, "secrecy": {"type": "integer", "enum": list(SECRECY_LEVELS)},
        "location_room": text(50), "location_cabinet": text(50), "location_shelf": text(50),
        "location_box": text(50)}},
    # A filed record's correction: the fields as in RecordChange (never the part), and why.
    "RecordCorrection": {"type": "object", "additionalProperties": False, "required": ["changes", "reason"],
                         "properties": {"reason": text(500, required=True), "changes": {
        "type": "object", "additionalProperties": False, "minProperties": 1, "properties": {
            "record_type": {"type": "string", "enum": list(RECORD_TYPES)}, "title": text(300, required=True),
            "doc_date": DATE, "secrecy": {"type": "integer", "enum": list(SECRECY_LEVELS)},
            "location_room": text(50), "location_cabinet": text(50), "location_shelf": text(50),
            "location_box": text(50)}}}},
    "ReviewBulk": {"type": "object", "additionalProperties": False, "required": ["record_ids"], "properties": {
        "record_ids": {"type": "array", "minItems": 1, "maxItems": 1000,
                       "items": {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID}},
        "comment": text(500)}},
    "ReviewComment": {"type": "object", "additionalProperties": False, "properties": {"comment": text(500)}},
    "SendBack": {"type": "object", "additionalProperties": False, "required": ["reason"],
                 "properties": {"reason": text(500, required=True)}},
    "RecordUpload": {"type": "object", "additionalProperties": False, "required": ["record_type", "files"],
                     "properties": {
        "record_type": {"type": "string", "enum": list(RECORD_TYPES)},
        "part": {"type": "string", "enum": [str(p) for p in PARTS],
                 "description": "1-4; the record type's own part when absent"},
        "title": text(300, required=True), "doc_date": DATE,
        "secrecy": {"type": "string", "enum": [str(s) for s in SECRECY_LEVELS]},
        "location_room": text(50), "location_cabinet": text(50), "location_shelf": text(50),
        "location_box": text(50),
        "files": {"type": "array", "minItems": 1, "items": {"type": "string", "format": "binary"},
                  "description": "PDF, JPEG, PNG or TIFF, decided by content"},
        "confirm_duplicate": {"type": "string", "enum": ["0", "1"]}}},
    "FilesUpload": {"type": "object", "additionalProperties": False, "required": ["files"], "properties": {
        "files": {"type": "array", "minItems": 1, "items": {"type": "string", "format": "binary"}},
        "confirm_duplicate": {"type": "string", "enum": ["0", "1"]}}},
    "IntakeFile": {"type": "object", "additionalProperties": False,
                   "required": ["customer_no", "record_type", "file"], "properties": {
        "customer_no": {"type": "string", "pattern": "^[Cc][0-9]{6}$", "description": "客户号, e.g. C000123"},
        "record_type": {"type": "string", "enum": list(RECORD_TYPES) + list(RECORD_TYPE_CODES.values()),
                        "description": "a record type, or its code (GFHT = 购房合同)"},
        "title": text(300), "doc_date": DATE,
        "secrecy": {"type": "string", "enum": [str(s) for s in SECRECY_LEVELS]},
        "file": {"type": "string", "format": "binary", "description": "PDF, JPEG, PNG or TIFF, decided by content"},
        "confirm_duplicate": {"type": "string", "enum": ["0", "1"]}}},
    "LoanInput": {"type": "object", "additionalProperties": False, "required": ["kind", "purpose"], "properties": {
        "kind": {"type": "string", "enum": ["view", "download", "original"],
                 "description": "查阅 / 复制调用 / 借出原件"},
        "purpose": text(500, required=True),
        "record_ids": {"type": "array", "items": ROW_ID, "maxItems": 200},
        "customer_id": {**ROW_ID, "description": "a whole customer file instead of record_ids"},
        "window_end": {"type": "string", "description": "ISO date (end of that local day) or date-time; "
                                                        "past the request day needs reason"},
        "reason": text(500)}},
    "LoanDecision": {"type": "object", "additionalProperties": False, "properties": {"reason": text(500)}},
    "LoanRejection": {"type": "object", "additionalProperties": False, "required": ["reason"],
                      "properties": {"reason": text(500, required=True)}},
    "PaperHandOut": {"type": "object", "additionalProperties": False, "required": ["request_id", "record_id", "pages"],
                     "properties": {"request_id": ROW_ID, "record_id": ROW_ID,
                                    "pages": {"type": "integer", "minimum": 1, "maximum": 100_000}}},
    "PaperReturn": {"type": "object", "additionalProperties": False, "required": ["pages_back"], "properties": {
        "pages_back": {"type": "integer", "minimum": 0, "maximum": 100_000}, "condition_note": text(500)}},
    "PasswordChange": {"type": "object", "additionalProperties": False,
                       "required": ["current_password", "new_password"], "properties": {
        "current_password": {**text(128), "description": "the caller's own password"},
        "new_password": {**text(128), "minLength": 10,
                         "description": "not the username, not a common or guessable password (zxcvbn score ≥ 2)"}}},
    "PasswordReset": {"type": "object", "additionalProperties": False, "properties": {
        "password": {**text(128), "minLength": 10,
                     "description": "the temporary password (not the username, not common or guessable); "
                                    "omitted: one is generated and returned once"}}},
    "UserChange": {"type": "object", "additionalProperties": False, "required": ["reason"], "properties": {
        "role": {"type": "string", "enum": list(ROLE_LABELS)},
        "department": {"anyOf": [text(100), {"type": "null"}], "description": "department name; empty or null: none"},
        "clearance": {"type": "integer", "enum": list(SECRECY_LEVELS)},
        "reason": {**text(500, required=True), "description": "why (kept in the audit log)"}}},
    "UserDeactivation": {"type": "object", "additionalProperties": False, "required": ["successor_id"], "properties": {
        "successor_id": {**ROW_ID, "description": "the colleague who takes over customers and originals"},
        "note": text(500)}},
    "UserReactivation": {"type": "object", "additionalProperties": False, "properties": {"reason": text(500)}},
    # responses
    "SearchCustomer": {
        "type": "object", "additionalProperties": False,
        "required": ["id", "customer_no", "name", "kind", "project", "unit", "phones", "id_number"],
        "description": "a customer the search text names (name, pinyin, phone, ID number, 客户号), "
                       "records or none; phones and ID number masked",
        "properties": {"id": {"type": "integer"}, "customer_no": {"type": "string"}, "name": {"type": "string"},
                       "kind": {"type": "string", "enum": ["person", "company"]},
                       "project": {"type": "string"}, "unit": {"type": "string"}, "phones": {"type": "string"},
                       "id_number": {"type": ["string", "null"]}}},
    "SearchResult": {
        "type": "object", "additionalProperties": False,
        "required": ["total", "page", "per_page", "customers", "items"],
        "properties": {
            "total": {"type": "integer", "minimum": 0}, "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1},
            "customers": {"type": "array", "maxItems": 5,
                          "items": {"$ref": "#/components/schemas/SearchCustomer"}},
            "items": {"type": "array", "items": {
                "type": "object", "additionalProperties": False, "required": ["record", "score", "snippet"],
                "properties": {"record": {"type": "object"}, "score": {"type": "number"},
                               "snippet": {"type": "string", "description": "HTML, matches in <mark>"}}}}}},
}
MULTIPART = {"RecordUpload", "FilesUpload", "IntakeFile"}
# Bodies a client may leave out altogether.
OPTIONAL_BODIES = {"LoanDecision", "ChangeDecision", "VerificationInput"}


def build_document(rules: list[tuple[str, set[str]]]) -> dict[str, Any]:
    """The OpenAPI 3.1 document for the API blueprint's rules."""
    paths: dict[str, dict[str, Any]] = {}
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for op in OPERATIONS:
        responses: dict[str, Any] = {str(code): {"description": text_} for code, text_ in op.responses.items()}
        if op.response:
            ok = min(code for code in op.responses if code < 300)
            responses[str(ok)]["content"] = {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{op.response}"}}}
        for code, text_ in {**COMMON_ERRORS, **{c: t for c, t in op.responses.items() if c >= 400}}.items():
            responses[str(code)] = {"description": text_, "content": error}
        item: dict[str, Any] = {"summary": op.summary, "operationId": op.endpoint, "responses": responses}
        params = [{"name": p, "in": "path", "required": True, "schema": ROW_ID}
                  for p in re.findall(r"<(?:[a-z]+:)?([a-z_]+)>", op.path)]
        params += [{"name": name, "in": "query", "required": False, "schema": schema}
                   for name, schema in (op.query or {}).items()]
        if params:
            item["parameters"] = params
        if op.body:
            media = "multipart/form-data" if op.body in MULTIPART else "application/json"
            item["requestBody"] = {"required": op.body not in OPTIONAL_BODIES, "content": {media: {
                "schema": {"$ref": f"#/components/schemas/{op.body}"}}}}
        paths.setdefault(openapi_path(op.path), {})[op.method] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": "客户档案 API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "components": {"schemas": SCHEMAS, "securitySchemes": {
            "token": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": "session"}}},
        "security": [{"token": []}, {"session": []}],
        "paths": paths,
    }
