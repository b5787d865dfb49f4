"""Retention and destruction pages: 保管期限表, 冻结（诉讼保全）, 到期档案, 鉴定与销毁, 销毁清册.

Each page is open to the users the policy lets do its action (``page``); the view parses the
request, calls one service of the retention room with the store, index and real time, and renders
or redirects with the Chinese message of a DomainError. The services enforce every permission again.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for

from archive_app.accounts.models import User
from archive_app.backup import backups
from archive_app.errors import DomainError, ValidationFailed
from archive_app.extensions import db
from archive_app.http import attachment, attempt, client_ip, date_arg, optional_int, page_arg
from archive_app.http import page as http_page
from archive_app.i18n import _
from archive_app.retention import disposal, documents, holds, paper, queries, upkeep
from archive_app.retention import schedule as retention
from archive_app.retention.models import BATCH_STATUSES, DECISIONS, HOLD_KINDS, TRIGGERS
from archive_app.vocabulary import RECORD_TYPES
from archive_app.wiring import backup_destination, get_index, get_store, setting, timezone_name
from archive_app.wiring import now as utc_now

bp = Blueprint("retention", __name__)

PER_PAGE = 100
ITEMS_PER_PAGE = 200


def local_today() -> date:
    """Today in the archive's time zone."""
    return utc_now().astimezone(ZoneInfo(timezone_name())).date()


def page(rule: str, action: str, **options: Any) -> Callable:
    """A retention page: signed-in users whom the policy lets do ``action`` (see ``http.page``)."""
    return http_page(bp, rule, action, message=_("您没有权限访问保管期限与销毁管理"), **options)


def _done(action: Callable[[], Any], success: Callable[[Any], str]) -> Any:
    """``http.attempt``, keeping only the result (None after a refusal, already flashed)."""
    return attempt(action, success)[0]


# ---------------------------------------------------------------------------------------------- template helpers


# The record and customer pages show retention state and holds (``db.session`` is a scoped proxy).
bp.add_app_template_global(functools.partial(queries.retention_of, db.session), "retention_of")
bp.add_app_template_global(functools.partial(queries.customer_holds, db.session), "customer_holds")


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {"HOLD_KINDS": HOLD_KINDS, "DECISIONS": DECISIONS}


# ---------------------------------------------------------------------------------------------- schedule


def _schedule(editing: bool, values: dict[str, Any], status: int = 200):
    return render_template("retention/schedule.html", **queries.schedule_page(db.session), triggers=TRIGGERS,
                           editing=editing, values=values), status


@page("/retention/schedule", "retention.view")
def schedule(user: User):
    return _schedule(False, {})


@page("/retention/schedule/edit", "schedule.edit", methods=["GET", "POST"])
def schedule_edit(user: User):
    if request.method != "POST":
        return _schedule(True, {})
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    data = {t: {"years": values.get(f"years__{t}", ""), "trigger": values.get(f"trigger__{t}", "")}
            for t in RECORD_TYPES if f"trigger__{t}" in values}
    now = utc_now()
    try:
        new = retention.update_schedule(db.session, user, retention.parse_rules(data), note=values.get("note", ""),
                                        now=now)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _schedule(True, values, exc.status)
    # Synchronous at this scale; with millions of records a background job runs this.
    done = upkeep.after_change(db.session, get_store(), now=now, all_records=True)
    flash(_("已发布保管期限表第 %(version)s 版，%(moved)s 件档案的到期日已重新计算", version=new.version, moved=done.moved), "success")
    return redirect(url_for("retention.schedule"))


# ---------------------------------------------------------------------------------------------- holds


def _mirrored(change: holds.HoldChange | None) -> None:
    failed = len(change.upkeep.locks.failed) if change is not None else 0
    if failed:
        flash(_("存储层冻结同步失败 %(failed)s 个文件，请联系管理员运行 archive retention-sync", failed=failed), "warning")


@page("/retention/holds", "hold.place")
def holds_page(user: User):
    active, lifted = queries.hold_lists(db.session)
    return render_template("retention/holds.html", active=active, lifted=lifted, kinds=HOLD_KINDS,
                           form=request.args)


@page("/retention/holds", "hold.place", methods=["POST"])
def hold_place(user: User):
    form = request.form
    _mirrored(_done(lambda: holds.place_hold(
        db.session, user, kind=form.get("kind", ""), reason=form.get("reason", ""), mandate=form.get("mandate", ""),
        now=utc_now(), store=get_store(), **holds.find_target(db.session, user, form.get("target", "customer"),
                                                               form.get("code", ""))),
        lambda c: _("已冻结 %(hold_label)s", hold_label=queries.hold_label(c.hold, user))))
    return redirect(url_for("retention.holds_page"))


@page("/retention/holds/<int:hold_id>/lift", "hold.release", methods=["POST"])
def hold_lift(user: User, hold_id: int):
    _mirrored(_done(lambda: holds.lift_hold(db.session, user, hold_id, reason=request.form.get("reason", ""),
                                            now=utc_now(), store=get_store()),
                    lambda c: _("已解除冻结：%(hold_label)s", hold_label=queries.hold_label(c.hold, user))))
    return redirect(url_for("retention.holds_page"))


# ---------------------------------------------------------------------------------------------- due list


@page("/retention/due", "disposal.view_due")
def due(user: User):
    status = 200
    try:
        on = date_arg(request.args.get("on"), _("截止日期")) or local_today()
    except ValidationFailed as exc:
        flash(exc.message, "error")
        on, status = local_today(), exc.status
    found = queries.due_page(db.session, on, page_arg(), PER_PAGE)
    return render_template("retention/due.html", on=on, **found), status


# ---------------------------------------------------------------------------------------------- batches


@page("/disposal/batches", "retention.view")
def batches(user: User):
    rows, counts = queries.batch_list(db.session)
    return render_template("retention/batches.html", batches=rows, counts=counts, statuses=BATCH_STATUSES,
                           item_states=queries.ITEM_STATES)


@page("/disposal/batches", "disposal.review", methods=["POST"])
def batch_create(user: User):
    try:
        due_by = date_arg(request.form.get("due_by"), _("截止日期")) or local_today()
    except ValidationFailed as exc:
        flash(exc.message, "error")
        return redirect(url_for("retention.due"))
    batch = _done(lambda: disposal.create_batch(db.session, user, due_by, now=utc_now(), tz=timezone_name()),
                  lambda b: _("已发起鉴定：销毁批次 %(batch_no)s（截至 %(due_by)s）", batch_no=b.batch_no, due_by=due_by.isoformat()))
    if batch is None:
        return redirect(url_for("retention.due", on=due_by.isoformat()))
    return redirect(url_for("retention.batch", batch_id=batch.id))


@page("/disposal/batches/<int:batch_id>", "retention.view")
def batch(user: User, batch_id: int):
    return render_template("retention/batch.html",
                           **queries.batch_page(db.session, user, batch_id, page_arg(), ITEMS_PER_PAGE),
                           statuses=BATCH_STATUSES, item_states=queries.ITEM_STATES, decision_labels=DECISIONS)


def _back(batch_id: int):
    return redirect(url_for("retention.batch", batch_id=batch_id, page=request.form.get("page") or None))


@page("/disposal/batches/<int:batch_id>/decide", "disposal.review", methods=["POST"])
def batch_decide(user: User, batch_id: int):
    form = request.form
    if form.get("scope") == "undecided":
        ids = queries.undecided_items(db.session, batch_id)
    else:
        ids = [int(v) for v in form.getlist("item_ids") if v.isdigit()]
    decision = form.get("decision", "")
    keep_years = optional_int(form.get("keep_years")) if decision == "extend" else None
    if not ids:
        flash(_("请先勾选要鉴定的档案"), "error")
        return _back(batch_id)
    label = DECISIONS.get(decision, decision)
    _done(lambda: disposal.decide(db.session, user, batch_id, ids, decision, reason=form.get("reason", ""),
                                  now=utc_now(), keep_years=keep_years),
          lambda n: _("已对 %(n)s 件档案作出鉴定意见：%(label)s", n=n, label=label) + (_(" %(keep_years)s 年", keep_years=keep_years) if keep_years else ""))
    return _back(batch_id)


def _batch_step(rule: str, name: str, action: str, run: Callable[[User, int], Any],
                success: Callable[[Any], str]) -> None:
    """One POST step of a disposal batch: the policy's ``action``, the service ``run``, back to the batch."""
    def view(user: User, batch_id: int):
        _done(lambda: run(user, batch_id), success)
        return _back(batch_id)

    view.__name__ = name
    page(f"/disposal/batches/<int:batch_id>/{rule}", action, methods=["POST"])(view)


_batch_step("submit", "batch_submit", "disposal.review",
            lambda user, batch_id: disposal.submit(db.session, user, batch_id, now=utc_now()),
            lambda b: _("销毁批次 %(batch_no)s 已提交总经理审批", batch_no=b.batch_no))
_batch_step("approve", "batch_approve", "disposal.approve",
            lambda user, batch_id: disposal.approve(db.session, user, batch_id, now=utc_now(),
                                                    note=request.form.get("note", ""), store=get_store()),
            lambda b: _("已批准销毁批次 %(batch_no)s，待两名监销人确认", batch_no=b.batch_no))
_batch_step("send-back", "batch_send_back", "disposal.approve",
            lambda user, batch_id: disposal.send_back(db.session, user, batch_id, note=request.form.get("note", ""),
                                                      now=utc_now()),
            lambda b: _("已退回销毁批次 %(batch_no)s，鉴定小组须重新鉴定", batch_no=b.batch_no))
_batch_step("sign", "batch_sign", "disposal.supervise",
            lambda user, batch_id: disposal.sign_as_supervisor(db.session, user, batch_id, now=utc_now()),
            lambda s: _("您已确认担任销毁批次 %(batch_no)s 的监销人", batch_no=s.batch.batch_no))
_batch_step("execute", "batch_execute", "disposal.execute",
            lambda user, batch_id: disposal.execute(db.session, get_store(), user, batch_id, index=get_index(),
                                                    now=utc_now(), tz=timezone_name()),
            disposal.ExecutionResult.summary)
_batch_step("paper", "batch_paper", "disposal.execute",
            lambda user, batch_id: paper.destroy_paper(
                db.session, user, batch_id, method=request.form.get("method", ""),
                supervisor_ids=[int(v) for v in request.form.getlist("supervisor_ids") if v.isdigit()],
                note=request.form.get("note", ""), now=utc_now()),
            lambda b: _("已登记销毁批次 %(batch_no)s 的原件销毁：%(paper_count)s 件原件已%(paper_method)s，存放位置已清除", batch_no=b.batch_no, paper_count=b.paper_count, paper_method=b.paper_method))


# ------------------------------------------------------------------------------------ register and certificate


def _send(doc: documents.Document):
    return attachment(doc.content, doc.mimetype, doc.filename, doc.ascii_filename)


def _register_xlsx(user: User, batch_id: int | None):
    return _send(documents.register_xlsx(db.session, user, batch_id, tz=timezone_name(), now=utc_now(), ip=client_ip()))


@page("/disposal/batches/<int:batch_id>/register.xlsx", "retention.view")
def batch_register_xlsx(user: User, batch_id: int):
    return _register_xlsx(user, batch_id)


@page("/disposal/register.xlsx", "retention.view")
def register_export(user: User):
    return _register_xlsx(user, optional_int(request.args.get("batch")))


@page("/disposal/batches/<int:batch_id>/certificate.pdf", "retention.view")
def batch_certificate(user: User, batch_id: int):
    return _send(documents.certificate(db.session, get_store(), user, batch_id, ip=client_ip()))


@page("/disposal/register", "retention.view")
def register(user: User):
    batch_id = optional_int(request.args.get("batch"))
    listing = queries.register_page(db.session, batch_id, page_arg(), PER_PAGE)
    # Destruction wins over restore, but an old backup still holds the bytes until it is pruned: say until when.
    dest, keep = setting("BACKUP_DIR"), int(setting("BACKUP_KEEP"))
    try:
        names = backups.list_backups(backup_destination(dest)) if dest else None
    except DomainError:  # an S3 destination out of reach: the register itself must still show
        names = None
    held = {e.id: backups.held_until(names, e.destroyed_at, keep) for e in listing["entries"]} \
        if names is not None else None
    return render_template("retention/register.html", batch_id=batch_id, held=held, keep=keep, **listing)
