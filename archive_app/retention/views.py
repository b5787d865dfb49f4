"""Retention and destruction pages: 保管期限表, 冻结（诉讼保全）, 到期档案, 鉴定与销毁, 销毁清册.

Views parse the request, ask the policy who may open the page, call ``retention.schedule`` /
``holds`` / ``disposal`` with the real time, flash the Chinese message of a DomainError and
redirect. The services enforce every permission again; templates ask ``can`` like everywhere.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload


from archive_app.wiring import get_index, get_store
from archive_app.wiring import now as utc_now
from archive_app.vocabulary import RECORD_TYPES
from archive_app.errors import DomainError, NotFound, ValidationFailed
from archive_app.extensions import db
from archive_app.intake.models import Customer, Record
from archive_app.accounts.models import User
from archive_app.retention.models import (
    BATCH_STATUSES,
    DECISIONS,
    HOLD_KINDS,
    TRIGGERS,
    DestructionEntry,
    DisposalBatch,
    DisposalItem,
    LegalHold,
    ScheduleVersion,
)
from archive_app.audit import log as audit
from archive_app.retention import disposal
from archive_app import exports
from archive_app.retention import holds
from archive_app.retention import locks as object_lock
from archive_app.retention import schedule as retention
from archive_app.http import actor, attachment, client_ip, page_arg
from archive_app import policy

bp = Blueprint("retention", __name__)

DISPOSAL_STATES = {"scheduled": "定期", "permanent": "永久保存", "awaiting_event": "等待起算事件",
                   "held": "冻结中（暂停计时）"}
ITEM_STATES = {"pending": "待销毁", "destroying": "销毁中", "destroyed": "已销毁", "kept": "保留",
               "skipped": "已跳过"}
PER_PAGE = 100
ITEMS_PER_PAGE = 200
REGISTER_HEADERS = ["序号", "档号", "题名", "档案类型", "客户号", "起止日期", "页数", "文件数", "保管期限依据",
                    "鉴定意见", "批准人", "监销人", "执行人", "销毁时间", "销毁方式", "SHA-256"]


# ---------------------------------------------------------------------------------------------- shared


def _tz() -> str:
    return current_app.config["TIMEZONE"]


def local_today() -> date:
    return utc_now().astimezone(ZoneInfo(_tz())).date()


def _require(user: User, action: str) -> None:
    """Forbidden unless the policy lets ``user`` do ``action`` (which opens the page)."""
    policy.require(user, action, code="forbidden", message="您没有权限访问保管期限与销毁管理")


def _act(action: Callable[[], Any], success: Callable[[Any], str]) -> Any:
    """Run one action: flash its success message, or roll back and flash the domain error."""
    try:
        result = action()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return None
    flash(success(result), "success")
    return result


def _date_arg(value: str | None, label: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed(f"{label}格式不正确（例如 2026-11-25）", code="invalid_date") from None


def _optional_int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------- template helpers


@bp.app_template_global("retention_of")
def retention_of(record: Record) -> dict[str, Any]:
    """What the record page shows about retention: state label, active holds, the tombstone."""
    entry = None
    if record.status == "destroyed":
        entry = db.session.scalar(select(DestructionEntry).where(DestructionEntry.record_id == record.id))
    return {"state_label": DISPOSAL_STATES.get(record.disposal_state, record.disposal_state or "—"),
            "holds": holds.active_holds(db.session, record) if record.status != "destroyed" else [],
            "entry": entry, "batch": entry.batch if entry is not None else None}


@bp.app_template_global("customer_holds")
def customer_holds(customer: Customer) -> list[LegalHold]:
    """Holds on the customer's file or on any of its records, newest first (active and lifted)."""
    record_ids = select(Record.id).where(Record.customer_id == customer.id)
    return list(db.session.scalars(
        select(LegalHold).where(or_(LegalHold.customer_id == customer.id, LegalHold.record_id.in_(record_ids)))
        .options(selectinload(LegalHold.record), selectinload(LegalHold.placed_by),
                 selectinload(LegalHold.lifted_by))
        .order_by(LegalHold.lifted_at.is_not(None), LegalHold.placed_at.desc())))


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {"HOLD_KINDS": HOLD_KINDS, "DECISIONS": DECISIONS}


# ---------------------------------------------------------------------------------------------- schedule


def _schedule_history() -> list[dict[str, Any]]:
    """Every version, newest first, with what changed from the version before."""
    versions = list(db.session.scalars(select(ScheduleVersion).options(selectinload(ScheduleVersion.rules),
                                                                        selectinload(ScheduleVersion.created_by))
                                       .order_by(ScheduleVersion.version)))
    out, previous = [], None
    for v in versions:
        rules = {r.record_type: (r.years, r.trigger) for r in v.rules}
        changes = []
        if previous is not None:
            for t, rule in rules.items():
                if previous.get(t) != rule:
                    changes.append((t, previous.get(t), rule))
        out.append({"version": v, "changes": changes})
        previous = rules
    return list(reversed(out))


def _rule_rows(schedule: ScheduleVersion) -> list[dict[str, Any]]:
    rules = {r.record_type: r for r in schedule.rules}
    return [{"type": t, "part": RECORD_TYPES[t][0], "rule": rules.get(t)} for t in RECORD_TYPES]


@bp.route("/retention/schedule")
@login_required
def schedule():
    user = actor(current_user)
    _require(user, "retention.view")
    current = retention.current_schedule(db.session)
    db.session.commit()  # the default version is written on first use
    return render_template("retention/schedule.html", schedule=current, rows=_rule_rows(current),
                           history=_schedule_history(), triggers=TRIGGERS, editing=False, values={})


@bp.route("/retention/schedule/edit", methods=["GET", "POST"])
@login_required
def schedule_edit():
    user = actor(current_user)
    _require(user, "schedule.edit")
    current = retention.current_schedule(db.session)
    db.session.commit()
    values: dict[str, Any] = {}
    if request.method == "POST":
        values = {k: v for k, v in request.form.items() if k != "csrf_token"}
        data = {t: {"years": values.get(f"years__{t}", ""), "trigger": values.get(f"trigger__{t}", "")}
                for t in RECORD_TYPES if f"trigger__{t}" in values}
        now = utc_now()
        try:
            changes = retention.parse_rules(data)
            new = retention.update_schedule(db.session, user, changes, note=values.get("note", ""), now=now)
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
            current = retention.current_schedule(db.session)
            return render_template("retention/schedule.html", schedule=current, rows=_rule_rows(current),
                                   history=_schedule_history(), triggers=TRIGGERS, editing=True,
                                   values=values), exc.status
        # Synchronous at this scale; with millions of records a background job runs these two.
        moved = retention.recompute_all(db.session, now.date())
        object_lock.apply_all(db.session, get_store(), now)
        flash(f"已发布保管期限表第 {new.version} 版，{moved} 件档案的到期日已重新计算", "success")
        return redirect(url_for("retention.schedule"))
    return render_template("retention/schedule.html", schedule=current, rows=_rule_rows(current),
                           history=_schedule_history(), triggers=TRIGGERS, editing=True, values=values)


# ---------------------------------------------------------------------------------------------- holds


def _mirror_hold(hold: LegalHold, now: datetime) -> None:
    """Mirror a placed or lifted hold onto the stored objects (S3 legal hold / the file store's own)."""
    report = object_lock.apply_locks(db.session, get_store(), holds.hold_record_ids(db.session, hold), now)
    db.session.commit()
    if report.failed:
        flash(f"存储层冻结同步失败 {len(report.failed)} 个文件，请联系管理员运行 archive retention-sync", "warning")


def _hold_target(form) -> dict[str, int]:
    target = form.get("target", "customer")
    code = (form.get("code") or "").strip()
    if not code:
        raise ValidationFailed("请填写客户号或档号", code="invalid_target")
    if target == "record":
        rid = db.session.scalar(select(Record.id).where(Record.archival_code == code))
        if rid is None:
            raise NotFound(f"档号 {code} 不存在", code="not_found")
        return {"record_id": rid}
    cid = db.session.scalar(select(Customer.id).where(Customer.customer_no == code))
    if cid is None:
        raise NotFound(f"客户号 {code} 不存在", code="not_found")
    return {"customer_id": cid}


@bp.route("/retention/holds")
@login_required
def holds_page():
    user = actor(current_user)
    _require(user, "hold.place")
    opts = (selectinload(LegalHold.customer), selectinload(LegalHold.record).selectinload(Record.customer),
            selectinload(LegalHold.placed_by), selectinload(LegalHold.lifted_by))
    active = db.session.scalars(select(LegalHold).where(LegalHold.lifted_at.is_(None)).options(*opts)
                                .order_by(LegalHold.placed_at.desc())).all()
    lifted = db.session.scalars(select(LegalHold).where(LegalHold.lifted_at.is_not(None)).options(*opts)
                                .order_by(LegalHold.lifted_at.desc()).limit(200)).all()
    return render_template("retention/holds.html", active=active, lifted=lifted, kinds=HOLD_KINDS,
                           form=request.args)


@bp.route("/retention/holds", methods=["POST"])
@login_required
def hold_place():
    user = actor(current_user)
    _require(user, "hold.place")
    now = utc_now()

    def place() -> LegalHold:
        return holds.place_hold(db.session, user, kind=request.form.get("kind", ""),
                                reason=request.form.get("reason", ""), mandate=request.form.get("mandate", ""),
                                now=now, **_hold_target(request.form))

    hold = _act(place, lambda h: f"已冻结 {_hold_label(h)}")
    if hold is not None:
        _mirror_hold(hold, now)
    return redirect(url_for("retention.holds_page"))


def _hold_label(hold: LegalHold) -> str:
    if hold.record_id is not None:
        return f"档案 {hold.record.archival_code}"
    return f"客户 {hold.customer.customer_no} 的全部档案"


@bp.route("/retention/holds/<int:hold_id>/lift", methods=["POST"])
@login_required
def hold_lift(hold_id: int):
    user = actor(current_user)
    _require(user, "hold.release")
    now = utc_now()
    hold = _act(lambda: holds.lift_hold(db.session, user, hold_id, reason=request.form.get("reason", ""), now=now),
                lambda h: f"已解除冻结：{_hold_label(h)}")
    if hold is not None:
        _mirror_hold(hold, now)
    return redirect(url_for("retention.holds_page"))


# ---------------------------------------------------------------------------------------------- due list


@bp.route("/retention/due")
@login_required
def due():
    user = actor(current_user)
    _require(user, "disposal.view_due")
    status = 200
    try:
        on = _date_arg(request.args.get("on"), "截止日期") or local_today()
    except ValidationFailed as exc:
        flash(exc.message, "error")
        on, status = local_today(), exc.status
    page = page_arg()
    total, rows = disposal.due_list(db.session, on, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    return render_template("retention/due.html", on=on, total=total, rows=rows, page=page, pages=pages,
                           counts=retention.due_counts_by_year(db.session)), status


# ---------------------------------------------------------------------------------------------- batches


def _item_counts(batch_ids: list[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {b: {} for b in batch_ids}
    if not batch_ids:
        return out
    rows = db.session.execute(select(DisposalItem.batch_id, DisposalItem.state, func.count())
                              .where(DisposalItem.batch_id.in_(batch_ids))
                              .group_by(DisposalItem.batch_id, DisposalItem.state))
    for bid, state, n in rows:
        out[bid][state] = n
    return out


@bp.route("/disposal/batches")
@login_required
def batches():
    user = actor(current_user)
    _require(user, "retention.view")
    rows = db.session.scalars(select(DisposalBatch).options(selectinload(DisposalBatch.created_by),
                                                            selectinload(DisposalBatch.approved_by))
                              .order_by(DisposalBatch.id.desc()).limit(500)).all()
    return render_template("retention/batches.html", batches=rows, counts=_item_counts([b.id for b in rows]),
                           statuses=BATCH_STATUSES, item_states=ITEM_STATES)


@bp.route("/disposal/batches", methods=["POST"])
@login_required
def batch_create():
    user = actor(current_user)
    _require(user, "disposal.review")
    try:
        due_by = _date_arg(request.form.get("due_by"), "截止日期") or local_today()
    except ValidationFailed as exc:
        flash(exc.message, "error")
        return redirect(url_for("retention.due"))
    batch = _act(lambda: disposal.create_batch(db.session, user, due_by, now=utc_now(), tz=_tz()),
                 lambda b: f"已发起鉴定：销毁批次 {b.batch_no}（截至 {due_by.isoformat()}）")
    if batch is None:
        return redirect(url_for("retention.due", on=due_by.isoformat()))
    return redirect(url_for("retention.batch", batch_id=batch.id))


def _get_batch(batch_id: int) -> DisposalBatch:
    batch = db.session.get(DisposalBatch, batch_id)
    if batch is None:
        raise NotFound("销毁批次不存在", code="batch_not_found")
    return batch


@bp.route("/disposal/batches/<int:batch_id>")
@login_required
def batch(batch_id: int):
    user = actor(current_user)
    _require(user, "retention.view")
    b = _get_batch(batch_id)
    page = page_arg()
    total = db.session.scalar(select(func.count()).where(DisposalItem.batch_id == b.id)) or 0
    items = db.session.scalars(select(DisposalItem).where(DisposalItem.batch_id == b.id)
                               .options(selectinload(DisposalItem.record).selectinload(Record.customer),
                                        selectinload(DisposalItem.decided_by))
                               .order_by(DisposalItem.id).limit(ITEMS_PER_PAGE)
                               .offset((page - 1) * ITEMS_PER_PAGE)).all()
    decisions = dict(db.session.execute(select(DisposalItem.decision, func.count())
                                        .where(DisposalItem.batch_id == b.id).group_by(DisposalItem.decision)).all())
    signed_ids = {s.user_id for s in b.supervisors}
    flags = {
        "review": b.status == "reviewing" and policy.can(user, "disposal.review"),
        "approve": b.status == "submitted" and policy.can(user, "disposal.approve"),
        "sign": b.status == "approved" and policy.can(user, "disposal.supervise") and user.id not in signed_ids
                and len(signed_ids) < 2,
        "execute": (b.status in ("approved", "executing") and policy.can(user, "disposal.execute")
                    and len(signed_ids) >= 2 and user.id not in signed_ids),
    }
    return render_template("retention/batch.html", batch=b, items=items, total=total, page=page,
                           pages=max((total + ITEMS_PER_PAGE - 1) // ITEMS_PER_PAGE, 1),
                           states=_item_counts([b.id])[b.id], decisions=decisions, flags=flags,
                           statuses=BATCH_STATUSES, item_states=ITEM_STATES, decision_labels=DECISIONS,
                           entries=db.session.scalar(select(func.count()).where(DestructionEntry.batch_id == b.id)))


def _back(batch_id: int):
    return redirect(url_for("retention.batch", batch_id=batch_id, page=request.form.get("page") or None))


@bp.route("/disposal/batches/<int:batch_id>/decide", methods=["POST"])
@login_required
def batch_decide(batch_id: int):
    user = actor(current_user)
    _require(user, "disposal.review")
    form = request.form
    if form.get("scope") == "undecided":
        ids = list(db.session.scalars(select(DisposalItem.id).where(DisposalItem.batch_id == batch_id,
                                                                    DisposalItem.decision.is_(None))))
    else:
        ids = [int(v) for v in form.getlist("item_ids") if v.isdigit()]
    decision = form.get("decision", "")
    keep_years = _optional_int(form.get("keep_years")) if decision == "extend" else None
    if not ids:
        flash("请先勾选要鉴定的档案", "error")
        return _back(batch_id)
    label = DECISIONS.get(decision, decision)
    _act(lambda: disposal.decide(db.session, user, batch_id, ids, decision, reason=form.get("reason", ""),
                                 now=utc_now(), keep_years=keep_years),
         lambda n: f"已对 {n} 件档案作出鉴定意见：{label}" + (f" {keep_years} 年" if keep_years else ""))
    return _back(batch_id)


@bp.route("/disposal/batches/<int:batch_id>/submit", methods=["POST"])
@login_required
def batch_submit(batch_id: int):
    user = actor(current_user)
    _require(user, "disposal.review")
    _act(lambda: disposal.submit(db.session, user, batch_id, now=utc_now()),
         lambda b: f"销毁批次 {b.batch_no} 已提交总经理审批")
    return _back(batch_id)


@bp.route("/disposal/batches/<int:batch_id>/approve", methods=["POST"])
@login_required
def batch_approve(batch_id: int):
    user = actor(current_user)
    _require(user, "disposal.approve")
    now = utc_now()
    b = _act(lambda: disposal.approve(db.session, user, batch_id, now=now, note=request.form.get("note", "")),
             lambda b: f"已批准销毁批次 {b.batch_no}，待两名监销人确认")
    if b is not None:
        # 延长保管 / 永久保存 decisions moved those records' dates: the storage locks follow.
        kept = db.session.scalars(select(DisposalItem.record_id).where(DisposalItem.batch_id == batch_id,
                                                                       DisposalItem.state == "kept")).all()
        object_lock.apply_locks(db.session, get_store(), kept, now)
        db.session.commit()
    return _back(batch_id)


@bp.route("/disposal/batches/<int:batch_id>/send-back", methods=["POST"])
@login_required
def batch_send_back(batch_id: int):
    user = actor(current_user)
    _require(user, "disposal.approve")
    _act(lambda: disposal.send_back(db.session, user, batch_id, note=request.form.get("note", ""), now=utc_now()),
         lambda b: f"已退回销毁批次 {b.batch_no}，鉴定小组须重新鉴定")
    return _back(batch_id)


@bp.route("/disposal/batches/<int:batch_id>/sign", methods=["POST"])
@login_required
def batch_sign(batch_id: int):
    user = actor(current_user)
    _require(user, "disposal.supervise")
    _act(lambda: disposal.sign_as_supervisor(db.session, user, batch_id, now=utc_now()),
         lambda s: f"您已确认担任销毁批次 {s.batch.batch_no} 的监销人")
    return _back(batch_id)


@bp.route("/disposal/batches/<int:batch_id>/execute", methods=["POST"])
@login_required
def batch_execute(batch_id: int):
    user = actor(current_user)
    _require(user, "disposal.execute")
    now = utc_now()
    store = get_store()

    def run():
        return disposal.execute(db.session, store, user, batch_id, index=get_index(), now=now, tz=_tz())

    def message(result: disposal.ExecutionResult) -> str:
        text = f"销毁完成：本次销毁 {result.destroyed} 件"
        if result.already_done:
            text += f"，此前已销毁 {result.already_done} 件"
        if result.skipped:
            text += f"，跳过 {result.skipped} 件（冻结或不再到期，见明细）"
        return text + "；销毁清册与销毁证明已生成"

    _act(run, message)
    return _back(batch_id)


# ---------------------------------------------------------------------------------------------- register and certificate


def _entry_row(i: int, e: DestructionEntry, with_batch: bool) -> list[Any]:
    if e.date_from and e.date_to and e.date_from != e.date_to:
        span = f"{e.date_from.isoformat()} 至 {e.date_to.isoformat()}"
    else:
        span = (e.date_from or e.date_to).isoformat() if (e.date_from or e.date_to) else ""
    row: list[Any] = [i, e.archival_code, e.title, e.record_type, e.customer_no, span, e.page_count, e.file_count,
                      e.retention_basis, f"销毁：{e.decision_reason}" if e.decision_reason else "销毁",
                      e.approved_by, e.supervisors, e.executed_by, e.destroyed_at, e.method,
                      "\n".join(e.sha256s.split())]
    if with_batch:
        row.insert(1, e.batch.batch_no)
    return row


def register_xlsx(batch_id: int | None) -> Response:
    """The 销毁清册 as XLSX (one batch or all of it); the export is written to the audit log."""
    user = actor(current_user)
    _require(user, "retention.view")
    b = _get_batch(batch_id) if batch_id is not None else None
    entries = disposal.register_entries(db.session, batch_id)
    with_batch = b is None
    headers = list(REGISTER_HEADERS)
    if with_batch:
        headers.insert(1, "销毁批次号")
    title = f"销毁清册 {b.batch_no}" if b else "销毁清册（全部）"
    content = exports.table_to_xlsx(headers, (_entry_row(i, e, with_batch) for i, e in enumerate(entries, 1)),
                                    "销毁清册", title, tz=_tz())
    audit.record_event(db.session, "disposal.register_export", actor=user, object_type="disposal_batch",
                       object_id=b.id if b else "", ip=client_ip(),
                       details={"batch_no": b.batch_no if b else None, "rows": len(entries)})
    db.session.commit()
    name = f"销毁清册-{b.batch_no}.xlsx" if b else f"销毁清册-{local_today().isoformat()}.xlsx"
    return attachment(content, exports.XLSX_MIMETYPE, name, name.replace("销毁清册", "register"))


@bp.route("/disposal/batches/<int:batch_id>/register.xlsx")
@login_required
def batch_register_xlsx(batch_id: int):
    return register_xlsx(batch_id)


@bp.route("/disposal/batches/<int:batch_id>/certificate.pdf")
@login_required
def batch_certificate(batch_id: int):
    user = actor(current_user)
    _require(user, "retention.view")
    b = _get_batch(batch_id)
    if not b.certificate_key:
        raise NotFound("该批次尚未完成销毁，没有销毁证明", code="certificate_not_found")
    with get_store().open(b.certificate_key) as fh:
        data = fh.read()
    audit.record_event(db.session, "disposal.certificate_download", actor=user, object_type="disposal_batch",
                       object_id=b.id, ip=client_ip(), details={"batch_no": b.batch_no})
    db.session.commit()
    name = f"销毁证明-{b.batch_no}.pdf"
    return attachment(data, "application/pdf", name, f"certificate-{b.batch_no}.pdf")


@bp.route("/disposal/register")
@login_required
def register():
    user = actor(current_user)
    _require(user, "retention.view")
    batch_id = _optional_int(request.args.get("batch"))
    page = page_arg()
    stmt = select(DestructionEntry)
    if batch_id is not None:
        stmt = stmt.where(DestructionEntry.batch_id == batch_id)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    entries = db.session.scalars(stmt.options(selectinload(DestructionEntry.batch))
                                 .order_by(DestructionEntry.batch_id, DestructionEntry.id)
                                 .limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    all_batches = db.session.scalars(select(DisposalBatch).where(DisposalBatch.status.in_(("executing", "executed")))
                                     .order_by(DisposalBatch.id.desc())).all()
    return render_template("retention/register.html", entries=entries, total=total, page=page,
                           pages=max((total + PER_PAGE - 1) // PER_PAGE, 1), batch_id=batch_id,
                           batches=all_batches, offset=(page - 1) * PER_PAGE)


@bp.route("/disposal/register.xlsx")
@login_required
def register_export():
    return register_xlsx(_optional_int(request.args.get("batch")))
