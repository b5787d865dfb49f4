"""Log in and out (both successes and failures go to the audit log), and how flask-login finds the
user of a request: the session's user, an API bearer token, or a redirect to the log-in page."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask import session as web_session
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from archive_app.accounts import users as accounts
from archive_app.accounts.models import User
from archive_app.accounts.sessions import end_sessions, session_is_current
from archive_app.audit import log as audit
from archive_app.extensions import db, login_manager
from archive_app.http import actor, client_ip, error_response
from archive_app.wiring import now

bp = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.login_message = "请先登录"
login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    if user is None or not user.is_active or not session_is_current(user, web_session.get("sv")):
        return None
    return user


@login_manager.request_loader
def load_user_from_token(req) -> User | None:
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer ") or not req.path.startswith("/api/"):
        return None
    user = accounts.user_for_token(db.session, header[7:].strip())
    if user is not None:
        req.environ["archive.token_auth"] = True
    return user


@login_manager.unauthorized_handler
def unauthorized():
    if request.path.startswith("/api/"):
        return error_response(401, "unauthorized", "请先登录或提供有效的 API 令牌")
    return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))


def _safe_next(target: str | None) -> str:
    # Only same-site relative paths; anything else could send the user to another host.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("customers.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("customers.index"))
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        user = db.session.scalar(select(User).where(User.username == username))
        ok = accounts.check_password(user, password) and user.is_active
        if ok:
            login_user(user)
            web_session["sv"] = user.session_version or 0
            audit.record_event(db.session, "login.success", actor=user, object_type="user", object_id=user.id,
                               ip=client_ip())
            return redirect(_safe_next(request.args.get("next")))
        audit.record_event(db.session, "login.failure", actor_name=username[:100], object_type="user",
                           object_id=user.id if user else "", ip=client_ip(), details={"username": username[:100]})
        db.session.commit()  # the refusal is answered 401, which rolls back: the failed attempt must stay
        flash("用户名或密码错误", "error")
        return render_template("auth/login.html", username=username), 401
    return render_template("auth/login.html", username="")


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    user = actor(current_user)
    audit.record_event(db.session, "logout", actor=user, object_type="user", object_id=user.id, ip=client_ip())
    # Ends this user's other sessions too: a copied cookie must not outlive the logout.
    end_sessions(db.session, user, now(), revoke_tokens=False)
    logout_user()
    web_session.pop("sv", None)
    flash("您已退出登录", "info")
    return redirect(url_for("auth.login"))
