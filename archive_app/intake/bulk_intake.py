"""Intake in bulk: one file, one record, its customer named by 客户号 rather than by row id.

The bulk upload page sends each dropped file on its own request, and the watched intake folder
files each file it finds; both name the customer the way people and file names do (C000123) and
let ``records.create_record`` do the filing, with its blob-then-row rule and its checks.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.errors import NotFound, ValidationFailed
from archive_app.i18n import _
from archive_app.intake import records
from archive_app.intake.models import Customer, Record
from archive_app.intake.naming_rule import CUSTOMER_NO, record_type_of
from storage import BlobStore


def customer_id_for(session: Session, customer_no: str) -> int:
    """The row id of the customer whose 客户号 is ``customer_no`` (any case); NotFound otherwise.

    Whether the actor may file into that customer's file is decided by ``create_record`` (policy),
    which answers a customer they may not see exactly like a missing one.
    """
    number = (customer_no or "").strip().upper()
    if not CUSTOMER_NO.fullmatch(number):
        raise ValidationFailed(_("客户号格式不正确：%(customer_no)s（应为 C 加 6 位数字，例如 C000123）", customer_no=customer_no),
                               code="invalid_customer_no")
    found = session.scalar(select(Customer.id).where(Customer.customer_no == number))
    if found is None:
        raise NotFound(_("客户号不存在：%(number)s", number=number), code="customer_not_found")
    return found


def file_one(session: Session, store: BlobStore, settings: records.ArchiveSettings, actor: User, customer_no: str,
             data: Mapping[str, Any], incoming: records.IncomingFile, *, confirm_duplicate: bool = False,
             ip: str = "", now: datetime) -> Record:
    """File ``incoming`` as a new draft record of the customer numbered ``customer_no``; committed.

    ``data`` holds the record's fields; ``record_type`` may be a type's label or its code (GFHT).
    """
    # Asked before the number is looked up: someone who may not upload learns nothing of which numbers exist.
    policy.require(actor, "record.upload")
    values = dict(data)
    if "record_type" in values:
        values["record_type"] = record_type_of(str(values["record_type"] or "")) or values["record_type"]
    customer_id = customer_id_for(session, customer_no)
    return records.create_record(session, store, settings, actor, customer_id, values, [incoming],
                                 confirm_duplicate=confirm_duplicate, ip=ip, now=now)


__all__ = ["customer_id_for", "file_one"]
