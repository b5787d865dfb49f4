"""The audit log in words people read: what each entry concerns (with the page it links to) and its
details as Chinese ``key: value`` lines instead of JSON.

Nothing here changes the log (it is hash-chained); this is only what the log page and its exports
print. Targets are named through the policy: a record or customer the reader may not see keeps its
kind and nothing else.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.audit.models import AuditEntry
from archive_app.audit.shown import HIDDEN_DETAILS
from archive_app.i18n import _
from archive_app.intake.models import Customer, Record
from archive_app.vocabulary import (
    AUDIT_ACTION_LABELS,
    AUDIT_DETAIL_LABELS,
    AUDIT_OBJECT_LABELS,
    RECORD_STATUSES,
    SECRECY_LEVELS,
    file_type_label,
)


@dataclass(frozen=True)
class Target:
    """What an entry concerns as the page prints it: a label, and the page it links to (or none)."""

    label: str
    endpoint: str | None = None
    args: dict | None = None


def _ids(entries: Sequence[AuditEntry], object_type: str) -> set[int]:
    return {int(e.object_id) for e in entries if e.object_type == object_type and e.object_id.isdigit()}


def targets(session: Session, viewer: User, entries: Sequence[AuditEntry]) -> dict[int, Target]:
    """Each entry's target (by entry id) as ``viewer`` may read it, linked where they may open it."""
    records = {r.id: r for r in session.scalars(select(Record).where(Record.id.in_(_ids(entries, "record")))
                                                .options(selectinload(Record.customer)))}
    customers = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(_ids(entries, "customer"))))}
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(_ids(entries, "user"))))}
    manage_users = policy.can(viewer, "user.manage")
    out: dict[int, Target] = {}
    for e in entries:
        kind = AUDIT_OBJECT_LABELS.get(e.object_type, e.object_type)
        oid = int(e.object_id) if e.object_id.isdigit() else None
        if e.object_type == "record" and oid in records:
            r = records[oid]
            out[e.id] = (Target(_("档案 %(archival_code)s", archival_code=r.archival_code), "records.show", {"record_id": r.id})
                         if policy.can(viewer, "record.view", r) else Target(_("档案 %(hidden_record)s", hidden_record=policy.HIDDEN_RECORD)))
        elif e.object_type == "customer" and oid in customers:
            c = customers[oid]
            out[e.id] = (Target(_("客户 %(name)s（%(customer_no)s）", name=c.name, customer_no=c.customer_no), "customers.show", {"customer_id": c.id})
                         if policy.can(viewer, "customer.view", c) else Target(_("客户 %(hidden_details)s", hidden_details=HIDDEN_DETAILS)))
        elif e.object_type == "user" and oid in users:
            u = users[oid]
            out[e.id] = Target(_("用户 %(display_name)s（%(username)s）", display_name=u.display_name, username=u.username),
                               "admin.user_detail" if manage_users else None,
                               {"user_id": u.id} if manage_users else None)
        elif e.object_type == "disposal_batch" and oid is not None and policy.can(viewer, "retention.view"):
            out[e.id] = Target(f"{kind} {e.object_id}", "retention.batch", {"batch_id": oid})
        elif not e.object_type:
            out[e.id] = Target("—")
        else:
            out[e.id] = Target(f"{kind} {e.object_id}".strip())
    return out


def actor_links(viewer: User) -> bool:
    """Whether the log page may link each 操作人 to their account page."""
    return policy.can(viewer, "user.manage")


def _label(key: str) -> str:
    return AUDIT_DETAIL_LABELS.get(key, key)


def _value(key: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if key == "secrecy" and isinstance(value, int) and value in SECRECY_LEVELS:
        return SECRECY_LEVELS[value]
    if key in ("before", "after", "status") and isinstance(value, str) and value in RECORD_STATUSES:
        return RECORD_STATUSES[value]
    if key == "action" and isinstance(value, str):
        return AUDIT_ACTION_LABELS.get(value, value)
    if key in ("mime", "mime_type") and isinstance(value, str):
        return file_type_label(value)
    if isinstance(value, (dict, list)) and not value:
        return "—"
    if isinstance(value, dict):
        if set(value) == {"before", "after"}:
            return f"{_value('', value['before'])} → {_value('', value['after'])}"
        return "；".join(f"{_label(k)}：{_value(k, v)}" for k, v in value.items())
    if isinstance(value, list):
        return "、".join(_value(key, v) for v in value) or "—"
    return str(value)


def detail_lines(shown: str) -> list[tuple[str, str]]:
    """An entry's details (as ``shown.shown_details`` gave them) as (Chinese key, readable value) lines."""
    if not shown or shown == HIDDEN_DETAILS:
        return [("", shown)] if shown else []
    try:
        body = json.loads(shown)
    except ValueError:
        return [("", shown)]
    if not isinstance(body, dict):
        return [("", _value("", body))]
    return [(_label(k), _value(k, v)) for k, v in body.items()]


def detail_text(shown: str) -> str:
    """``detail_lines`` on one line (the exports' 详情 column)."""
    return "；".join(f"{k}：{v}" if k else v for k, v in detail_lines(shown))


def personal_text(data: dict | None) -> str:
    """Personal data recorded with an entry, as readable text (empty when none or erased)."""
    return _value("", data) if data else ""


__all__ = ["Target", "actor_links", "detail_lines", "detail_text", "personal_text", "targets"]
