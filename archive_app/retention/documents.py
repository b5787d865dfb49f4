"""The documents a destruction leaves, as files to hand out: the 销毁清册 (XLSX) and the certificate (PDF).

Each handing-out is written to the audit log (who, which batch, how many lines); the request's
unit of work commits it with the response.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from archive_app import exports, policy
from archive_app.accounts.models import User
from archive_app.audit import log as audit
from archive_app.errors import Forbidden, NotFound
from archive_app.i18n import _, _l
from archive_app.retention import disposal
from archive_app.retention.models import DestructionEntry
from archive_app.retention.queries import get_batch
from storage.base import BlobStore

REGISTER_HEADERS = [_l("序号"), _l("档号"), _l("题名"), _l("档案类型"), _l("客户号"), _l("起止日期"), _l("页数"), _l("文件数"), _l("保管期限依据"),
                    _l("鉴定意见"), _l("批准人"), _l("监销人"), _l("执行人"), _l("销毁时间"), _l("销毁方式"), _l("原件存放位置"), _l("原件销毁时间"),
                    "SHA-256"]


@dataclass(frozen=True)
class Document:
    """A file ready to send: its bytes, type, Chinese name and an ASCII fallback name."""

    content: bytes
    mimetype: str
    filename: str
    ascii_filename: str


def _entry_row(i: int, e: DestructionEntry, with_batch: bool, viewer: User) -> list[Any]:
    if e.date_from and e.date_to and e.date_from != e.date_to:
        span = _("%(date_from)s 至 %(date_to)s", date_from=e.date_from.isoformat(), date_to=e.date_to.isoformat())
    else:
        span = (e.date_from or e.date_to).isoformat() if (e.date_from or e.date_to) else ""
    seen = policy.can(viewer, "record.view", e.record)
    if seen:
        named = [e.archival_code, e.title, e.record_type, e.customer_no, span]
        basis, reason = e.retention_basis, _("销毁：%(decision_reason)s", decision_reason=e.decision_reason) if e.decision_reason else _("销毁")
    else:
        # The line stays (the 清册 must count every destroyed record); what it was does not.
        named, basis, reason = [str(policy.HIDDEN_RECORD), str(policy.HIDDEN_RECORD), "", "", ""], "", _("销毁")
    row: list[Any] = [i, *named, e.page_count, e.file_count, basis, reason,
                      e.approved_by, e.supervisors, e.executed_by, e.destroyed_at, e.method,
                      e.paper_location if seen else "", e.paper_destroyed_at, "\n".join(e.sha256s.split())]
    if with_batch:
        row.insert(1, e.batch.batch_no)
    return row


def register_xlsx(session: Session, user: User, batch_id: int | None, *, tz: str, now: datetime,
                  ip: str = "") -> Document:
    """The 销毁清册 as XLSX (one batch, or all of it); the export is audited."""
    b = get_batch(session, batch_id) if batch_id is not None else None
    entries = disposal.register_entries(session, batch_id)
    with_batch = b is None
    headers = list(REGISTER_HEADERS)
    if with_batch:
        headers.insert(1, _("销毁批次号"))
    title = _("销毁清册 %(batch_no)s", batch_no=b.batch_no) if b else _("销毁清册（全部）")
    content = exports.table_to_xlsx(headers, (_entry_row(i, e, with_batch, user) for i, e in enumerate(entries, 1)),
                                    _("销毁清册"), title, tz=tz)
    audit.record_read(session, "disposal.register_export", actor=user, object_type="disposal_batch",
                       object_id=b.id if b else "", ip=ip,
                       details={"batch_no": b.batch_no if b else None, "rows": len(entries)})
    session.flush()
    name = _("销毁清册-%(batch_no)s.xlsx", batch_no=b.batch_no) if b else _("销毁清册-%(date)s.xlsx", date=now.astimezone(ZoneInfo(tz)).date().isoformat())
    return Document(content, exports.XLSX_MIMETYPE, name, name.replace(_("销毁清册"), "register"))


def certificate(session: Session, store: BlobStore, user: User, batch_id: int, *, ip: str = "") -> Document:
    """The stored certificate of an executed batch; the download is audited."""
    b = get_batch(session, batch_id)
    if not b.certificate_key:
        raise NotFound(_("该批次尚未完成销毁，没有销毁证明"), code="certificate_not_found")
    # The certificate is a stored, signed document listing every record: it cannot be projected
    # per reader, so only who may see every record it lists receives it.
    if not all(policy.can(user, "record.view", e.record) for e in disposal.register_entries(session, b.id)):
        raise Forbidden(_("销毁证明列有您无权查看的档案，请向档案管理员查阅"), code="certificate_restricted")
    with store.open(b.certificate_key) as fh:
        data = fh.read()
    audit.record_read(session, "disposal.certificate_download", actor=user, object_type="disposal_batch",
                       object_id=b.id, ip=ip, details={"batch_no": b.batch_no})
    session.flush()
    return Document(data, "application/pdf", _("销毁证明-%(batch_no)s.pdf", batch_no=b.batch_no), f"certificate-{b.batch_no}.pdf")
