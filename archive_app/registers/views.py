"""Registers in: upload a register, see its mapping and every problem (a dry run), correct the mapping,
run the import; read and export the stored reports."""
from __future__ import annotations

import io
import os

from flask import Blueprint, abort, redirect, render_template, request, url_for

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.extensions import db
from archive_app.http import attachment, attempt, client_ip, optional_int, page, receives_files
from archive_app.i18n import _
from archive_app.registers import headers, held, importing, reports
from archive_app.wiring import follow_up_settings, get_store, now, setting, timezone_name

bp = Blueprint("registers", __name__)
# Problems shown on the check page; every one of them is in the stored report after the import.
SHOWN_PROBLEMS = 500
# Rows listed on the check page, so the archivist sees what was read before anything is written.
SHOWN_ROWS = 50


def _row_lines(user: User, check: importing.Check) -> list[dict]:
    """The first rows of the register as the check page lists them (phones as the policy shows them)."""
    return [{"row": r.row_no, "name": r.customer.get("name", ""),
             "phones": policy.shown_text(user, None, str(r.customer.get("phones") or "")),
             "state": _("错误") if r.problems else (_("可能重复") if r.duplicate_of else _("可导入"))}
            for r in check.rows[:SHOWN_ROWS]]


def _preview(user: User, token: str, filename: str, check: importing.Check | None, status: int = 200):
    return render_template("registers/check.html", token=token, filename=filename, check=check,
                           fields=headers.FIELDS, kinds=headers.KINDS, shown=SHOWN_PROBLEMS, shown_rows=SHOWN_ROWS,
                           rows=_row_lines(user, check) if check else [],
                           problems=reports.shown_problems(user, check.problem_lines()[:SHOWN_PROBLEMS])
                           if check else []), status


@receives_files("register.import")
@page(bp, "/registers/import", "register.import", methods=["GET", "POST"])
def upload(user):
    if request.method == "GET":
        return render_template("registers/upload.html", reports=reports.recent_reports(db.session, user))
    sent = request.files.get("file")
    if sent is None or not sent.filename:
        return render_template("registers/upload.html", reports=reports.recent_reports(db.session, user),
                               error=_("请选择登记表文件（XLSX 或 CSV）")), 400
    # Held in the shared store, not this node's disk: the check and the import may reach different nodes.
    store = get_store()
    held.forget_old(store, now())
    data = sent.stream.read()
    token, error = attempt(lambda: held.hold(store, io.BytesIO(data),
                                             max_size=int(setting("MAX_UPLOAD_MB")) * 1024 * 1024))
    if error:
        return render_template("registers/upload.html", reports=reports.recent_reports(db.session, user)), error.status
    filename = os.path.basename(sent.filename)
    check, error = attempt(lambda: importing.check_register(db.session, filename, data))
    return _preview(user, token, filename, check, error.status if error else 200)


@page(bp, "/registers/import/<token>", "register.import", methods=["POST"])
def check_or_run(user, token: str):
    data = held.read(get_store(), token)
    if data is None:
        abort(404)
    filename = os.path.basename(request.form.get("filename", "") or "register.xlsx")
    columns = optional_int(request.form.get("columns")) or 0
    mapping = [request.form.get(f"col_{i}") or None for i in range(min(columns, 500))] if columns else None
    check, error = attempt(lambda: importing.check_register(db.session, filename, data, mapping))
    if error or request.form.get("do") != "run":
        return _preview(user, token, filename, check, error.status if error else 200)
    report, error = attempt(lambda: importing.run_import(
        db.session, user, check, skip_errors=request.form.get("skip_errors") == "1", now=now(),
        settings=follow_up_settings(), ip=client_ip()),
        lambda r: _("已导入 %(customers_created)s 户客户、%(cards_created)s 张温馨卡", customers_created=r.customers_created, cards_created=r.cards_created))
    if error:
        return _preview(user, token, filename, check, error.status)
    db.session.commit()
    held.release(get_store(), token)
    return redirect(url_for("registers.show_report", report_id=report.id))


@page(bp, "/registers/imports/<int:report_id>", "register.import")
def show_report(user, report_id: int):
    report = reports.view_report(db.session, user, report_id, client_ip())
    return render_template("registers/report.html", report=report, kinds=headers.KINDS,
                           problems=reports.shown_problems(user, report.problems),
                           problem_kinds=reports.PROBLEM_KINDS)


@page(bp, "/registers/imports/<int:report_id>.<any(xlsx, csv):fmt>", "register.import")
def export_report(user, report_id: int, fmt: str):
    report = reports.view_report(db.session, user, report_id, client_ip(), how=fmt)
    content, mimetype, name = reports.export_report(user, report, fmt, timezone_name())
    return attachment(content, mimetype, name, f"import-report-{report.id}.{fmt}")
