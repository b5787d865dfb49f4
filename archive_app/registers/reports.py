"""Stored import reports: listed, read again (each look audited) and exported as CSV or XLSX."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive_app import exports, policy
from archive_app.accounts.models import User
from archive_app.audit import log as audit
from archive_app.errors import NotFound
from archive_app.registers.headers import KINDS
from archive_app.registers.models import RegisterImport

PROBLEM_HEADERS = ["行号", "类别", "列", "代码", "说明"]
PROBLEM_KINDS = {"error": "错误", "duplicate": "可能重复"}


def recent_reports(session: Session, actor: User, limit: int = 50) -> list[RegisterImport]:
    """The latest imports, newest first (``register.import``)."""
    policy.require(actor, "register.import")
    return list(session.scalars(select(RegisterImport).order_by(RegisterImport.id.desc()).limit(limit)))


def view_report(session: Session, actor: User, report_id: int, ip: str = "", *, how: str = "page") -> RegisterImport:
    """One import report (``register.import``); the look is audited (``how``: page, csv, xlsx)."""
    policy.require(actor, "register.import")
    report = session.get(RegisterImport, report_id)
    if report is None:
        raise NotFound("导入报告不存在", code="import_report_not_found")
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
    name = f"导入报告-{report.id}"
    if fmt == "csv":
        return exports.table_to_csv(PROBLEM_HEADERS, rows, tz=tz), exports.CSV_MIMETYPE, f"{name}.csv"
    title = (f"{KINDS.get(report.kind, report.kind)}导入报告 #{report.id}：共 {report.total_rows} 行，"
             f"导入 {report.customers_created} 户，错误 {report.error_rows} 行，可能重复 {report.duplicate_rows} 行")
    return (exports.table_to_xlsx(PROBLEM_HEADERS, rows, "导入报告", title, tz=tz), exports.XLSX_MIMETYPE,
            f"{name}.xlsx")
