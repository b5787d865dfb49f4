"""flask-login wiring: session users, API bearer tokens, and what anonymous users get."""
from __future__ import annotations

from flask import redirect, request, url_for

from archive_app.http import error_response
from archive_app.extensions import db, login_manager
from archive_app.accounts.models import User
from archive_app.accounts import users as accounts

login_manager.login_view = "auth.login"
login_manager.login_message = "请先登录"
login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.is_active else None


@login_manager.request_loader
def load_user_from_token(req) -> User | None:
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer ") or not req.path.startswith("/api/"):
        return None
    user = accounts.user_for_token(db.session, header[7:].strip())
    if user is not None:
        db.session.commit()  # keeps last_used_at
        req.environ["archive.token_auth"] = True
    return user


@login_manager.unauthorized_handler
def unauthorized():
    if request.path.startswith("/api/"):
        return error_response(401, "unauthorized", "请先登录或提供有效的 API 令牌")
    return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))
