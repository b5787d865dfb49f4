"""The audit log as one reader may see it: entries about what they may not see keep their line, not its content.

The log itself is never changed (it is hash-chained); this is only what the log page prints. An
entry about a record, a customer or a hold the reader may not see (``policy``: ``record.view``,
``customer.view``, ``hold.view``) shows the placeholder instead of its details, and any 档号 of
such a record quoted in another entry's details is replaced by the placeholder too.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.audit.models import AuditEntry
from archive_app.i18n import _l
from archive_app.intake.models import Customer, Record
from archive_app.retention.models import LegalHold

# 全宗号-年度-保管期限代码-客户号-部分-件号 (intake.numbering.archival_code)
ARCHIVAL_CODE = re.compile(r"\b[0-9A-Za-z]+-\d{4}-[A-Z]+\d*-C\d+-\d-\d{4}\b")
HIDDEN_DETAILS = _l("（无权查看）")


def _ids(entries: Sequence[AuditEntry], object_type: str) -> set[int]:
    return {int(e.object_id) for e in entries if e.object_type == object_type and e.object_id.isdigit()}


def shown_details(session: Session, viewer: User, entries: Sequence[AuditEntry]) -> dict[int, str]:
    """Each entry's details (by entry id) as ``viewer`` may read them."""
    records = {r.id: r for r in session.scalars(select(Record).where(Record.id.in_(_ids(entries, "record")))
                                                .options(selectinload(Record.customer)))}
    customers = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(_ids(entries, "customer"))))}
    hold_rows = session.scalars(select(LegalHold).where(LegalHold.id.in_(_ids(entries, "legal_hold")))
                                .options(selectinload(LegalHold.record).selectinload(Record.customer),
                                         selectinload(LegalHold.customer)))
    held = {h.id: h for h in hold_rows}
    codes = {c for e in entries for c in ARCHIVAL_CODE.findall(e.details or "")}
    unseen = {r.archival_code for r in session.scalars(select(Record).where(Record.archival_code.in_(codes))
                                                       .options(selectinload(Record.customer)))
              if not policy.can(viewer, "record.view", r)}
    out: dict[int, str] = {}
    for e in entries:
        obj_id = int(e.object_id) if e.object_id.isdigit() else None
        hidden = ((e.object_type == "record" and obj_id in records
                   and not policy.can(viewer, "record.view", records[obj_id]))
                  or (e.object_type == "customer" and obj_id in customers
                      and not policy.can(viewer, "customer.view", customers[obj_id]))
                  or (e.object_type == "legal_hold" and obj_id in held
                      and not policy.can(viewer, "hold.view", held[obj_id])))
        text = str(HIDDEN_DETAILS) if hidden else (e.details or "")
        out[e.id] = ARCHIVAL_CODE.sub(lambda m: str(policy.HIDDEN_RECORD) if m.group(0) in unseen else m.group(0), text)
    return out
