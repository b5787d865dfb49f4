"""Upload into a customer's file, the record page, download, and the reviewer's queue."""
from __future__ import annotations

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from archive_app.borrowing import register as loan_register
from archive_app.errors import DomainError
from archive_app.extensions import db
from archive_app.http import actor, attempt, client_ip, incoming_files, receives_files, stream_response
from archive_app.i18n import _
from archive_app.intake import customers as customer_svc
from archive_app.intake import records as svc
from archive_app.wiring import archive_settings, get_store, now, timezone_name

bp = Blueprint("records", __name__)


@bp.route("/customers/<int:customer_id>/upload", methods=["GET", "POST"])
@login_required
@receives_files("record.upload")
def upload(customer_id: int):
    user = actor(current_user)
    customer = customer_svc.get_customer(db.session, user, customer_id, "record.upload")
    if request.method == "GET":
        return render_template("records/upload.html", customer=customer, values={})
    values = {k: v for k, v in request.form.items() if k not in ("csrf_token", "confirm_duplicate")}
    try:
        record = svc.create_record(db.session, get_store(), archive_settings(), user, customer_id, values,
                                   incoming_files(), confirm_duplicate=request.form.get("confirm_duplicate") == "1",
                                   ip=client_ip(), now=now())
    except DomainError as exc:
        db.session.rollback()
        if request.headers.get("X-Requested-With") == "fetch":
            return jsonify({"error": {"code": exc.code, "message": exc.message, "details": exc.details}}), exc.status
        flash(exc.message, "error")
        return render_template("records/upload.html", customer=customer, values=values,
                               error=exc), exc.status
    url = url_for("records.show", record_id=record.id)
    if request.headers.get("X-Requested-With") == "fetch":
        return jsonify({"id": record.id, "archival_code": record.archival_code, "url": url}), 201
    flash(_("已上传：%(archival_code)s", archival_code=record.archival_code), "success")
    return redirect(url)


@bp.route("/records/<int:record_id>")
@login_required
def show(record_id: int):
    user = actor(current_user)
    record = svc.view_record(db.session, user, record_id, ip=client_ip())
    # 借阅记录: this record's lines of the 查阅登记表, as far as the user may see the register.
    history = loan_register.record_history(db.session, user, record.id, tz=timezone_name())
    rights = svc.content_rights(db.session, user, record, now=now())
    return render_template("records/show.html", record=record, rights=rights, history=history)


@bp.route("/records/<int:record_id>/files/<int:file_id>")
@login_required
def download(record_id: int, file_id: int) -> Response:
    got = svc.open_file(db.session, get_store(), archive_settings(), actor(current_user), record_id, file_id,
                        ip=client_ip(), now=now())
    return stream_response(got, inline=request.args.get("inline") == "1")


@bp.route("/records/<int:record_id>/files/<int:file_id>/searchable")
@login_required
def searchable_copy(record_id: int, file_id: int) -> Response:
    got = svc.open_searchable_copy(db.session, get_store(), archive_settings(), actor(current_user), record_id,
                                   file_id, ip=client_ip(), now=now())
    return stream_response(got, inline=request.args.get("inline") == "1")


@bp.route("/records/<int:record_id>/files/<int:file_id>/pages/<int:page_no>/<any(thumb, image):kind>")
@login_required
def page_image(record_id: int, file_id: int, page_no: int, kind: str) -> Response:
    got = svc.open_page_image(db.session, get_store(), archive_settings(), actor(current_user), record_id, file_id,
                              page_no, "thumb" if kind == "thumb" else "view", ip=client_ip(), now=now())
    return stream_response(got, inline=True)


@bp.route("/records/<int:record_id>/files/<int:file_id>/pages/<int:page_no>")
@login_required
def page_view(record_id: int, file_id: int, page_no: int):
    got = svc.open_page_text(db.session, actor(current_user), record_id, file_id, page_no, ip=client_ip(), now=now())
    return render_template("records/page.html", record=got.record, file=got.file, page=got.pages[0], grant=got.grant)


# The fields the edit page sends (the part and the 档号 are never edited).
EDIT_FIELDS = ("record_type", "title", "doc_date", "secrecy", *svc.LOCATION_FIELDS)


@bp.route("/records/<int:record_id>/edit", methods=["GET", "POST"])
@login_required
def edit(record_id: int):
    user = actor(current_user)
    record, mode = svc.editable_record(db.session, user, record_id)
    if request.method == "GET":
        values = svc.record_snapshot(record)
        return render_template("records/edit.html", record=record, mode=mode, values=values)
    values = {k: request.form[k] for k in EDIT_FIELDS if k in request.form}
    if mode == "correct":
        _unused, error = attempt(lambda: svc.correct_record(db.session, user, record_id, values, request.form.get("reason", ""),
                                                      ip=client_ip(), store=get_store(), now=now()),
                           lambda r: _("已更正著录：%(archival_code)s", archival_code=r.archival_code))
    else:
        _unused, error = attempt(lambda: svc.update_record(db.session, user, record_id, values, ip=client_ip(),
                                                     store=get_store(), now=now()),
                           lambda r: _("已保存著录：%(archival_code)s", archival_code=r.archival_code))
    if error is not None:
        record, mode = svc.editable_record(db.session, user, record_id)
        return render_template("records/edit.html", record=record, mode=mode,
                               values=values | {"reason": request.form.get("reason", "")}), error.status
    return redirect(url_for("records.show", record_id=record_id))
