"""A report's table to XLSX (``exports.titled_table``), written to the audit log as ``report.export``."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from archive_app.accounts.models import User
from archive_app.audit import log as audit
from archive_app.errors import NotFound
from archive_app.exports import titled_table
from archive_app.i18n import _
from archive_app.reports.tables import Report


@dataclass(frozen=True)
class Exported:
    content: bytes
    mimetype: str
    filename: str
    ascii_filename: str


def export_report(session: Session, actor: User, report: Report, table_key: str | None, *, now: datetime, tz: str,
                  ip: str = "") -> Exported:
    """One table of ``report`` as an XLSX workbook titled with the report, its scope and period; audited."""
    try:
        table = report.table(table_key)
    except KeyError:
        raise NotFound(_("报表中没有这张表"), code="table_not_found") from None
    sheet = f"{report.title}-{table.title}"
    content, mimetype = titled_table("xlsx", table.headers, table.rows, sheet,
                                     described=f"{report.scope} · {report.period.describe()}",
                                     exported_by=actor.display_name, now=now, tz=tz)
    audit.record_event(session, "report.export", actor=actor, object_type="report", object_id=report.slug, ip=ip,
                       now=now, details={"report": report.slug, "table": table.key, "scope": report.scope,
                                         "from": report.period.start.isoformat(),
                                         "to": report.period.end.isoformat(), "rows": len(table.rows)})
    stem = f"{report.slug}-{table.key}-{report.period.start.isoformat()}"
    return Exported(content, mimetype, f"{report.title}-{table.title}-{report.period.start.isoformat()}.xlsx",
                    f"report-{stem}.xlsx")
