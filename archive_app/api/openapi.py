"""Build the OpenAPI document from what the endpoints declare when they register."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from archive_app.vocabulary import BUSINESS_TYPES, GRADES, PARTS, RECORD_TYPES, ROLE_LABELS, SECRECY_LEVELS


@dataclass
class Operation:
    path: str  # Flask rule, e.g. /customers/<int:customer_id>
    method: str
    summary: str
    body: str | None = None  # "json:<Schema>" or "multipart"
    responses: dict[int, str] = field(default_factory=dict)


OPERATIONS: list[Operation] = []


def document(path: str, method: str, summary: str, body: str | None = None,
             responses: dict[int, str] | None = None) -> Callable:
    """Declare an endpoint's OpenAPI entry next to its code."""

    def wrap(fn: Callable) -> Callable:
        OPERATIONS.append(Operation(path, method.lower(), summary, body, responses or {200: "OK"}))
        return fn

    return wrap


def openapi_path(rule: str) -> str:
    """/customers/<int:customer_id> -> /customers/{customer_id}"""
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


ERROR_SCHEMA = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string", "description": "stable machine-readable code"},
        "message": {"type": "string", "description": "human-readable message (简体中文)"},
        "details": {"type": "object"}}}},
}

SCHEMAS: dict[str, Any] = {
    "Error": ERROR_SCHEMA,
    "CustomerInput": {"type": "object", "properties": {
        "kind": {"type": "string", "enum": ["person", "company"]},
        "name": {"type": "string"}, "phones": {"type": "string", "description": "comma-separated"},
        "id_number": {"type": "string", "description": "身份证号 or 统一社会信用代码"},
        "business_type": {"type": "string", "enum": list(BUSINESS_TYPES)},
        "grade": {"type": "string", "enum": list(GRADES)}, "consultant_id": {"type": "integer"},
        "department": {"type": "string"}, "project": {"type": "string"}, "unit": {"type": "string"},
        "address": {"type": "string"}, "notes": {"type": "string"}}},
    "RecordInput": {"type": "object", "properties": {
        "record_type": {"type": "string", "enum": list(RECORD_TYPES)},
        "part": {"type": "integer", "enum": list(PARTS)}, "title": {"type": "string"},
        "doc_date": {"type": "string", "format": "date"},
        "secrecy": {"type": "integer", "enum": list(SECRECY_LEVELS)},
        "location_room": {"type": "string"}, "location_cabinet": {"type": "string"},
        "location_shelf": {"type": "string"}, "location_box": {"type": "string"}}},
    "LoanInput": {"type": "object", "required": ["kind", "purpose"], "properties": {
        "kind": {"type": "string", "enum": ["view", "download", "original"],
                 "description": "查阅 / 复制调用 / 借出原件"},
        "purpose": {"type": "string"},
        "record_ids": {"type": "array", "items": {"type": "integer"}},
        "customer_id": {"type": "integer", "description": "a whole customer file instead of record_ids"},
        "window_end": {"type": "string", "description": "ISO date (end of that local day) or date-time; "
                                                        "past the request day needs reason"},
        "reason": {"type": "string"}}},
    "LoanDecision": {"type": "object", "properties": {"reason": {"type": "string"}}},
    "PaperHandOut": {"type": "object", "required": ["request_id", "record_id", "pages"], "properties": {
        "request_id": {"type": "integer"}, "record_id": {"type": "integer"}, "pages": {"type": "integer"}}},
    "PaperReturn": {"type": "object", "required": ["pages_back"], "properties": {
        "pages_back": {"type": "integer"}, "condition_note": {"type": "string"}}},
    "PasswordChange": {"type": "object", "required": ["current_password", "new_password"], "properties": {
        "current_password": {"type": "string"},
        "new_password": {"type": "string", "minLength": 10, "maxLength": 128,
                         "description": "not the username, not a common or guessable password"}}},
    "PasswordReset": {"type": "object", "properties": {
        "password": {"type": "string", "minLength": 10, "maxLength": 128,
                     "description": "the temporary password; omitted: one is generated and returned once"}}},
    "UserChange": {"type": "object", "required": ["reason"], "properties": {
        "role": {"type": "string", "enum": list(ROLE_LABELS)},
        "department": {"type": ["string", "null"], "description": "department name; empty or null: none"},
        "clearance": {"type": "integer", "enum": list(SECRECY_LEVELS)},
        "reason": {"type": "string", "description": "why (kept in the audit log)"}}},
    "UserDeactivation": {"type": "object", "required": ["successor_id"], "properties": {
        "successor_id": {"type": "integer", "description": "the colleague who takes over customers and originals"},
        "note": {"type": "string"}}},
    "UserReactivation": {"type": "object", "properties": {"reason": {"type": "string"}}},
}


def build_document(rules: list[tuple[str, set[str]]]) -> dict[str, Any]:
    """The OpenAPI 3.1 document for the API blueprint's rules."""
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        item: dict[str, Any] = {"summary": op.summary, "responses": {
            str(code): {"description": text} for code, text in op.responses.items()}}
        item["responses"]["default"] = {"description": "error",
                                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        params = re.findall(r"<(?:[a-z]+:)?([a-z_]+)>", op.path)
        if params:
            item["parameters"] = [{"name": p, "in": "path", "required": True, "schema": {"type": "integer"}}
                                  for p in params]
        if op.body == "multipart":
            item["requestBody"] = {"content": {"multipart/form-data": {"schema": {"allOf": [
                {"$ref": "#/components/schemas/RecordInput"},
                {"type": "object", "properties": {
                    "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    "confirm_duplicate": {"type": "string", "enum": ["0", "1"]}}}]}}}}
        elif op.body:
            item["requestBody"] = {"content": {"application/json": {
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
