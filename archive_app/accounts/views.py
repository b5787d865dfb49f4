"""The administrator's pages: users (create, change, reset, deactivate, reactivate) and every user's API
tokens; revoking a token (one's own or, for an admin, anyone's)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from archive_app.accounts import administration as admin_svc
from archive_app.accounts import second_factor
from archive_app.accounts import users as accounts
from archive_app.accounts.models import Department, User
from archive_app.errors import DomainError
from archive_app.extensions import db
from archive_app.http import attempt, client_ip, optional_int, page
from archive_app.i18n import _
from archive_app.wiring import now

bp = Blueprint("admin", __name__)


@page(bp, "/admin/users", "user.manage", methods=["GET", "POST"])
def users(user: User):
    if request.method == "POST":
        try:
            created = accounts.create_user(
                db.session, username=request.form.get("username", ""), password=request.form.get("password", ""),
                role=request.form.get("role", ""), display_name=request.form.get("display_name", ""),
                department=request.form.get("department") or None,
                clearance=int(request.form["clearance"]) if request.form.get("clearance", "").isdigit() else None,
                actor=user)
            flash(_("已创建用户：%(username)s", username=created.username), "success")
            return redirect(url_for("admin.users"))
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
    rows = admin_svc.list_users(db.session, user)
    return render_template("admin/users.html", users=rows, departments=_departments())


def _departments() -> list[Department]:
    return list(db.session.scalars(select(Department).order_by(Department.name)))


def _show(actor: User, target: User, *, temporary_password: str | None = None, status: int = 200):
    successors = [u for u in db.session.scalars(select(User).where(User.is_active_flag.is_(True), User.id != target.id)
                                                .order_by(User.username))]
    tokens = admin_svc.list_tokens(db.session, actor, target)
    return render_template("admin/user.html", target=target, successors=successors, tokens=tokens,
                           departments=_departments(), temporary_password=temporary_password), status


def _back(target: User):
    return redirect(url_for("admin.user_detail", user_id=target.id))


@page(bp, "/admin/users/<int:user_id>", "user.manage")
def user_detail(user: User, user_id: int):
    return _show(user, admin_svc.get_user(db.session, user_id))


@page(bp, "/admin/users/<int:user_id>/change", "user.manage", methods=["POST"])
def change_user(user: User, user_id: int):
    target = admin_svc.get_user(db.session, user_id)
    form = request.form
    attempt(lambda: admin_svc.change_user(
        db.session, user, target, reason=form.get("reason", ""), now=now(),
        role=form.get("role") or admin_svc.UNCHANGED,
        department=form["department"] if "department" in form else admin_svc.UNCHANGED,
        clearance=form.get("clearance") or admin_svc.UNCHANGED),
        lambda changes: _("已修改 %(username)s，其登录会话和 API 令牌均已失效", username=target.username))
    return _back(target)


@page(bp, "/admin/users/<int:user_id>/password-reset", "user.manage", methods=["POST"])
def reset_password(user: User, user_id: int):
    target = admin_svc.get_user(db.session, user_id)
    temporary, error = attempt(lambda: admin_svc.reset_password(db.session, user, target, now=now(),
                                                                password=request.form.get("password") or None))
    if error is not None:
        return _back(target)
    # Shown in this answer only: a redirect would carry it in the (signed, not encrypted) session cookie.
    return _show(user, target, temporary_password=temporary)


@page(bp, "/admin/users/<int:user_id>/totp-reset", "user.manage", methods=["POST"])
def reset_totp(user: User, user_id: int):
    target = admin_svc.get_user(db.session, user_id)
    attempt(lambda: second_factor.reset(db.session, user, target, now(), ip=client_ip()),
            lambda _result: _("已关闭 %(username)s 的两步验证，其登录会话已失效；如角色要求，下次登录须重新绑定", username=target.username))
    return _back(target)


@page(bp, "/admin/users/<int:user_id>/deactivate", "user.deactivate", methods=["POST"])
def deactivate(user: User, user_id: int):
    target = admin_svc.get_user(db.session, user_id)
    successor_id = optional_int(request.form.get("successor_id"))
    attempt(lambda: admin_svc.deactivate(
        db.session, user, target, admin_svc.successor(db.session, successor_id), now=now(),
        note=request.form.get("note", "")),
        lambda h: _("已停用 %(username)s：%(customers_count)s 户客户、%(paper_loans_count)s 件原件已交接给 %(display_name)s，其登录会话和 API 令牌均已失效", username=target.username, customers_count=h.customers_count, paper_loans_count=h.paper_loans_count, display_name=h.to_user.display_name))
    return _back(target)


@page(bp, "/admin/users/<int:user_id>/reactivate", "user.deactivate", methods=["POST"])
def reactivate(user: User, user_id: int):
    target = admin_svc.get_user(db.session, user_id)
    attempt(lambda: admin_svc.reactivate(db.session, user, target, now=now(), reason=request.form.get("reason", "")),
            lambda _result: _("已启用 %(username)s", username=target.username))
    return _back(target)


@page(bp, "/admin/tokens", "token.manage_all")
def all_tokens(user: User):
    return render_template("admin/tokens.html", tokens=admin_svc.list_tokens(db.session, user, None))


@page(bp, "/tokens/<int:token_id>/revoke", "token.manage", methods=["POST"])
def revoke_token(user: User, token_id: int):
    token, _unused = attempt(lambda: admin_svc.revoke_token(db.session, user, token_id, now=now()),
                       lambda t: _("已撤销令牌「%(name)s」", name=t.name))
    # Back to the list the form was on: named, never a URL from the form.
    back = request.form.get("back")
    if back == "all":
        return redirect(url_for("admin.all_tokens"))
    if back == "user" and token is not None:
        return redirect(url_for("admin.user_detail", user_id=token.user_id))
    return redirect(url_for("account.index"))


@page(bp, "/tokens", "token.manage")
def tokens(user: User):
    # The token page became part of 我的账号; old links land there.
    return redirect(url_for("account.index"))
