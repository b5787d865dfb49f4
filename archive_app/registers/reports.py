"""Stored import reports: listed, read again (each look audited) and exported as CSV or XLSX."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive_app import exports, policy
from archive_app.accounts.models import User
from archive_app.audit import log as audit
from archive_app.errors import NotFound
from archive_app.i18n import _, _l
from archive_app.registers.headers import KINDS
from archive_app.registers.models import RegisterImport

PROBLEM_HEADERS = [_l("行号"), _l("类别"), _l("列"), _l("代码"), _l("说明")]
PROBLEM_KINDS = {"error": _l("错误"), "duplicate": _l("可能重复")}


def recent_reports(session: Session, actor: User, limit: int = 50) -> list[RegisterImport]:
    """The latest imports, newest first (``register.import``)."""
    policy.require(actor, "register.import")
    return list(session.scalars(select(RegisterImport).order_by(RegisterImport.id.desc()).limit(limit)))


def view_report(session: Session, actor: User, report_id: int, ip: str = "", *, how: str = "page") -> RegisterImport:
    """One import report (``register.import``); the look is audited (``how``: page, csv, xlsx)."""
    policy.require(actor, "register.import")
    report = session.get(RegisterImport, report_id)
    if report is None:
        raise NotFound(_("导入报告不存在"), code="import_report_not_found")
    audit.record_read(session, "register.report_view", actor=actor, object_type="register_import",
                      object_id=report.id, ip=ip, details={"how": how})
    return report


def shown_problems(viewer: User, problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Problem lines as ``viewer`` may see them: a message quoting a row's phone or ID number (「电话号码格式不正确：
    139…」) keeps it whole only for whoever handles registers' rows (``customer.pii_whole`` without a customer)."""
    return [p | {"message": policy.shown_text(viewer, None, p["message"])} for p in problems]


def export_report(viewer: User, report: RegisterImport, fmt: str, tz: str) -> tuple[bytes, str, str]:
    """(content, mimetype, file name) of the report's problems as ``csv`` or ``xlsx``, numbers in messages
    shown to ``viewer`` as on the page (``shown_problems``)."""
    rows = [[p["row"], PROBLEM_KINDS.get(p["kind"], p["kind"]), p["field"], p["code"], p["message"]]
            for p in shown_problems(viewer, report.problems)]
    name = _("导入报告-%(id)s", id=report.id)
    if fmt == "csv":
        return exports.table_to_csv(PROBLEM_HEADERS, rows, tz=tz), exports.CSV_MIMETYPE, f"{name}.csv"
    title = (_("%(value)s导入报告 #%(id)s：共 %(total_rows)s 行，导入 %(customers_created)s 户，错误 %(error_rows)s 行，可能重复 %(duplicate_rows)s 行", value=KINDS.get(report.kind, report.kind), id=report.id, total_rows=report.total_rows, customers_created=report.customers_created, error_rows=report.error_rows, duplicate_rows=report.duplicate_rows))
    return (exports.table_to_xlsx(PROBLEM_HEADERS, rows, _("导入报告"), title, tz=tz), exports.XLSX_MIMETYPE,
            f"{name}.xlsx")
