"""我的账号: every user's own account — change their password, create and revoke their API tokens —
and the forced password change: a user whose password was reset reaches nothing else until they change it."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from archive_app.accounts import administration as admin_svc
from archive_app.accounts import users as accounts
from archive_app.accounts.models import User
from archive_app.extensions import db
from archive_app.http import attempt, error_response, keep_this_session, page
from archive_app.i18n import _
from archive_app.wiring import now

bp = Blueprint("account", __name__)

# What a user who must change their password may still reach: the change itself, signing in and out
# (the whole log-in blueprint, second factor included), the stylesheet, and in the API who they are.
_OPEN_WHILE_FORCED = frozenset({"account.password", "static", "api.me", "api.change_my_password", "api.openapi"})


@bp.before_app_request
def _password_change_first():
    if not current_user.is_authenticated or not current_user.must_change_password:
        return None
    endpoint = request.endpoint or ""
    if endpoint in _OPEN_WHILE_FORCED or endpoint.startswith("auth."):
        return None
    if request.path.startswith("/api/"):
        return error_response(403, "password_change_required", _("管理员已重置您的密码，请先修改密码"))
    return redirect(url_for("account.password"))


def _account_page(user: User, *, new_token: str | None = None, status: int = 200):
    tokens = admin_svc.list_tokens(db.session, user, user)
    return render_template("account/index.html", tokens=tokens, new_token=new_token), status


@page(bp, "/account", "token.manage")
def index(user: User):
    return _account_page(user)


@page(bp, "/account/tokens", "token.manage", methods=["POST"])
def create_token(user: User):
    token = accounts.create_api_token(db.session, user, request.form.get("name", "").strip()[:100])
    # Shown in this answer only, never put in a flash (the session cookie is signed, not encrypted).
    return _account_page(user, new_token=token)


@page(bp, "/account/password", "password.change", methods=["GET", "POST"])
def password(user: User):
    if request.method == "POST":
        form = request.form
        if form.get("new_password", "") != form.get("confirm_password", ""):
            flash(_("两次输入的新密码不一致"), "error")
            return render_template("account/password.html"), 400
        revoked, error = attempt(lambda: admin_svc.change_own_password(
            db.session, user, current=form.get("current_password", ""),
            new=form.get("new_password", ""), now=now()))
        if error is not None:
            return render_template("account/password.html"), error.status
        keep_this_session(user)
        flash(_("密码已修改：您在其他地方的登录已退出") + (_("，%(revoked)s 个 API 令牌已撤销", revoked=revoked) if revoked else ""), "success")
        return redirect(url_for("account.index"))
    return render_template("account/password.html")
