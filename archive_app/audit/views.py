"""The audit log page (administrators and auditors): newest first, filtered by person, kind of action,
record or customer and local dates; paged, exported, with the chain's last verification on top."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from archive_app.accounts.models import User
from archive_app.audit import chain_state, queries, readable
from archive_app.audit.export import export_log
from archive_app.audit.shown import HIDDEN_DETAILS, shown_details
from archive_app.errors import ValidationFailed
from archive_app.extensions import db
from archive_app.http import attachment, client_ip, page, page_arg
from archive_app.i18n import _
from archive_app.vocabulary import AUDIT_ACTION_GROUPS, AUDIT_ACTION_LABELS
from archive_app.wiring import get_store, now, timezone_name

bp = Blueprint("audit", __name__)


@page(bp, "/audit", "audit.view")
def audit_log(user: User):
    status = 200
    try:
        f = queries.LogFilter.from_args(request.args)
    except ValidationFailed as exc:
        # Keep the form with what was typed; show no entries rather than unfiltered ones.
        flash(exc.message, "error")
        f, status = None, exc.status
    if f is not None:
        rows, pages, total = queries.read_log(db.session, user, f, tz=timezone_name(), page=page_arg(),
                                              ip=client_ip())
    else:
        rows, pages, total = [], 1, 0
    people = db.session.scalars(select(User.username).order_by(User.username).limit(500)).all()
    return render_template("audit/log.html", entries=rows, page=page_arg(), pages=pages, total=total,
                           args=f.as_args() if f is not None else {}, form=request.args,
                           labels=AUDIT_ACTION_LABELS, groups=AUDIT_ACTION_GROUPS, people=people,
                           details={k: readable.detail_lines(v) for k, v in shown_details(db.session, user, rows).items()},
                           targets=readable.targets(db.session, user, rows), hidden=HIDDEN_DETAILS,
                           link_actors=readable.actor_links(user), personal_text=readable.personal_text,
                           check=chain_state.last_check(db.session)), status


@page(bp, "/audit.<any(xlsx, csv):fmt>", "audit.view")
def audit_export(user: User, fmt: str):
    got = export_log(db.session, user, queries.LogFilter.from_args(request.args), fmt, tz=timezone_name(),
                     now=now(), ip=client_ip())
    return attachment(got.content, got.mimetype, got.filename, got.ascii_filename)


@page(bp, "/audit/verify", "audit.verify", methods=["POST"])
def audit_verify(user: User):
    result = chain_state.verify_now(db.session, get_store(), user, now=now(), ip=client_ip())
    if result.intact:
        flash(_("审计日志链完整：已校验 %(entries)s 条", entries=result.entries), "success")
    else:
        flash(_("审计日志链校验未通过，请立即联系系统管理员（详见页首）"), "error")
    return redirect(url_for("audit.audit_log"))
