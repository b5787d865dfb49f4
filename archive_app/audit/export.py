"""The audit log (filtered as on its page) exported as XLSX or CSV; the export is itself audited."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from archive_app import exports, policy
from archive_app.accounts.models import User
from archive_app.audit import log as audit
from archive_app.audit import queries, readable
from archive_app.audit.shown import HIDDEN_DETAILS, shown_details
from archive_app.errors import ValidationFailed
from archive_app.i18n import _, _l
from archive_app.vocabulary import AUDIT_ACTION_LABELS

FORMATS = ("xlsx", "csv")
HEADERS = [_l("序号"), _l("时间"), _l("操作人"), _l("操作"), _l("对象"), "IP", _l("详情"), _l("个人信息")]
SHEET_TITLE = _l("审计日志")
# A file someone can open in Excel (its row limit is 1,048,576; WPS is slower long before that).
MAX_ROWS = 100_000


@dataclass(frozen=True)
class LogExport:
    """The file handed over: its name (and an ASCII one for old clients), type, bytes and row count."""

    filename: str
    ascii_filename: str
    mimetype: str
    content: bytes
    rows: int


def describe(f: queries.LogFilter) -> str:
    """The filter in words, for the sheet's title line."""
    parts = []
    if f.user:
        parts.append(_("操作人 %(user)s", user=f.user))
    if f.action:
        parts.append(_("操作 %(value)s", value=AUDIT_ACTION_LABELS.get(f.action, f.action)))
    if f.target:
        parts.append(_("对象 %(target)s", target=f.target))
    if f.date_from or f.date_to:
        parts.append(_("%(value)s 至 %(value2)s", value=f.date_from or '…', value2=f.date_to or '…'))
    return "，".join(parts)


def export_log(session: Session, viewer: User, f: queries.LogFilter, fmt: str, *, tz: str, now: datetime,
               ip: str = "") -> LogExport:
    """The filtered log, newest first (at most ``MAX_ROWS`` entries), as the viewer may read it on the page."""
    if fmt not in FORMATS:
        raise ValidationFailed(_("导出格式须为 xlsx 或 csv"), code="invalid_format")
    policy.require(viewer, "audit.view")
    count = 0

    def cells() -> Iterator[list[Any]]:
        nonlocal count
        for batch in queries.iter_log(session, f, tz=tz, limit=MAX_ROWS):
            shown = shown_details(session, viewer, batch)
            named = readable.targets(session, viewer, batch)
            for e in batch:
                count += 1
                hidden = shown[e.id] == HIDDEN_DETAILS
                yield [e.seq, e.at, e.actor_name, AUDIT_ACTION_LABELS.get(e.action, e.action), named[e.id].label,
                       e.ip, readable.detail_text(shown[e.id]),
                       "" if hidden else readable.personal_text(e.personal_data)]

    content, mimetype = exports.titled_table(fmt, HEADERS, cells(), SHEET_TITLE, described=describe(f),
                                             exported_by=viewer.display_name, now=now, tz=tz)
    audit.record_event(session, "audit.export", actor=viewer, object_type="audit_log", object_id=fmt, ip=ip,
                       now=now, details={"format": fmt, "rows": count, "filters": f.as_args()})
    session.flush()
    day = f"{now.astimezone(ZoneInfo(tz)):%Y-%m-%d}"
    return LogExport(filename=f"{SHEET_TITLE}-{day}.{fmt}", ascii_filename=f"audit-log-{day}.{fmt}",
                     mimetype=mimetype, content=content, rows=count)


__all__ = ["FORMATS", "LogExport", "describe", "export_log"]
