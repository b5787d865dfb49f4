"""Log in and out; both successes and failures go to the audit log."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from archive_app.extensions import db
from archive_app.accounts.models import User
from archive_app.accounts import users as accounts
from archive_app.audit import log as audit
from archive_app.http import actor, client_ip

bp = Blueprint("auth", __name__)


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
            audit.record_event(db.session, "login.success", actor=user, object_type="user", object_id=user.id,
                               ip=client_ip())
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")))
        audit.record_event(db.session, "login.failure", actor_name=username[:100], object_type="user",
                           object_id=user.id if user else "", ip=client_ip(), details={"username": username[:100]})
        db.session.commit()
        flash("用户名或密码错误", "error")
        return render_template("auth/login.html", username=username), 401
    return render_template("auth/login.html", username="")


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    user = actor(current_user)
    audit.record_event(db.session, "logout", actor=user, object_type="user", object_id=user.id, ip=client_ip())
    db.session.commit()
    logout_user()
    flash("您已退出登录", "info")
    return redirect(url_for("auth.login"))
