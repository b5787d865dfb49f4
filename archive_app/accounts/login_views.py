"""Log in and out, the second factor, and the rules every signed-in request passes.

Log-in: every attempt is counted in the database before the password is checked
(``accounts/throttle.py``); while a delay is in force the answer is 429 without checking anything.
A user with a TOTP secret then gives a code on a second step (``/login/code``; the pending user
waits in the signed session for five minutes). Successes, failures, refusals and the second factor
are audited. ``/account/totp`` turns one's own second factor on and off.

Before each request: a browser session ends after ``ARCHIVE_SESSION_IDLE_MINUTES`` without a
request or ``ARCHIVE_SESSION_MAX_HOURS`` after log-in (API tokens are not sessions), and a user
whose role ``ARCHIVE_TOTP_REQUIRED_ROLES`` names but who has no second factor can do nothing but
enrol. flask-login finds the user of a request: the session's user, an API bearer token, or none.
"""
from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask import session as web_session
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from archive_app import policy
from archive_app.accounts import second_factor, sessions, throttle
from archive_app.accounts import users as accounts
from archive_app.accounts.models import User
from archive_app.accounts.sessions import end_sessions, session_is_current
from archive_app.audit import log as audit
from archive_app.extensions import db, login_manager
from archive_app.http import actor, attempt, client_ip, error_response, page
from archive_app.i18n import _, _l
from archive_app.wiring import now, setting

bp = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.login_message = _l("请先登录")
# Flask-Login flashes the message as given: make the lazy text a plain str in the reader's language.
login_manager.localize_callback = str
login_manager.session_protection = "strong"

# How long a correct password waits for its second factor.
PENDING_SECONDS = 300
TOTP_REQUIRED_MESSAGE = _l("您的角色必须启用两步验证：请先完成设置")
# Where a user who must still enrol a second factor may go.
_ENROLMENT_ENDPOINTS = frozenset({"static", "auth.totp", "auth.logout"})


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
        return error_response(401, "unauthorized", _("请先登录或提供有效的 API 令牌"))
    return redirect(url_for("auth.login", next=_here()))


def _here() -> str:
    return request.full_path if request.query_string else request.path


def _safe_next(target: str | None) -> str:
    # Only same-site relative paths; anything else could send the user to another host.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    # The landing page after login: each role's 工作台 (the customer list stays at "/", in the nav).
    return url_for("reports.home")


# ------------------------------------------------------------------------ every request's rules


@bp.before_app_request
def _session_rules():
    if request.endpoint == "static":
        return None
    if "_user_id" in web_session:
        expired = _end_or_touch_session()
        if expired is not None:
            return expired
    user = current_user
    if (user.is_authenticated and not user.totp_secret and request.endpoint not in _ENROLMENT_ENDPOINTS
            and policy.second_factor_required(user, setting("TOTP_REQUIRED_ROLES"))):
        if request.path.startswith("/api/"):
            return error_response(403, "totp_required", str(TOTP_REQUIRED_MESSAGE))
        flash(str(TOTP_REQUIRED_MESSAGE), "error")
        return redirect(url_for("auth.totp"))
    return None


def _end_or_touch_session():
    """End a timed-out session (answering for it unless it is a log-in or a token request), else keep it fresh."""
    at = now()
    limits = sessions.SessionLimits.from_config(current_app.config)
    if not sessions.session_expired(limits, web_session.get("login_at"), web_session.get("seen_at"), at):
        if sessions.needs_touch(limits, web_session["seen_at"], at):
            web_session["seen_at"] = sessions.stamp(at)
        return None
    logout_user()
    for key in ("sv", "login_at", "seen_at"):
        web_session.pop(key, None)
    if request.endpoint in ("auth.login", "auth.logout"):
        return None
    if request.path.startswith("/api/"):
        if request.headers.get("Authorization", "").startswith("Bearer "):
            return None  # the token decides, not the browser session that came with it
        return error_response(401, "session_expired", _("会话已超时，请重新登录"))
    flash(_("会话已超时，请重新登录"), "info")
    return redirect(url_for("auth.login", next=_here()))


# ----------------------------------------------------------------------------- log in and out


def _throttle_settings() -> throttle.ThrottleSettings:
    return throttle.ThrottleSettings.from_config(current_app.config)


def _begin_attempt(username: str) -> tuple[int, throttle.Wait | None]:
    """Count this attempt (committed, so every worker sees it) and say whether a delay is in force."""
    at, settings = now(), _throttle_settings()
    row = throttle.record_attempt(db.session, username, client_ip(), at, settings)
    db.session.commit()
    return row, throttle.delay_for(db.session, username, client_ip(), at, settings, before=row)


def _refuse_throttled(row: int, username: str, wait: throttle.Wait, render: Callable[[], str]):
    """429 without checking the secret; audited, at most once a minute per account and address (this process)."""
    throttle.withdraw(db.session, row)
    at = now()
    thinner = current_app.extensions.setdefault("login_audit_thinner", throttle.AuditThinner())
    if thinner.should_audit((username[:100], client_ip()), at):
        audit.record_event(db.session, "login.throttled", actor_name=username[:100], object_type="user",
                           ip=client_ip(), now=at,
                           details={"username": username[:100], "scope": wait.scope, "retry_after": wait.seconds})
    db.session.commit()  # a 429 rolls back: the withdrawal and the audit entry must stay
    flash(wait.message, "error")
    response = current_app.make_response((render(), 429))
    response.headers["Retry-After"] = str(wait.seconds)
    return response


def _refuse(username: str, user: User | None, stage: str, message: str, render: Callable[[], str]):
    """401 for a wrong password or code: the counted attempt stays, the failure is audited."""
    audit.record_event(db.session, "login.failure", actor_name=username[:100], object_type="user",
                       object_id=user.id if user else "", ip=client_ip(), now=now(),
                       details={"username": username[:100], "stage": stage})
    db.session.commit()  # the refusal is answered 401, which rolls back: the failed attempt must stay
    flash(message, "error")
    return render(), 401


def _complete_login(user: User, *, second_factor_used: bool, next_url: str | None):
    at = now()
    login_user(user)
    web_session["sv"] = user.session_version or 0
    web_session["login_at"] = web_session["seen_at"] = sessions.stamp(at)
    throttle.succeeded(db.session, user.username)
    audit.record_event(db.session, "login.success", actor=user, object_type="user", object_id=user.id,
                       ip=client_ip(), now=at, details={"second_factor": second_factor_used})
    if not user.totp_secret and policy.second_factor_required(user, setting("TOTP_REQUIRED_ROLES")):
        flash(str(TOTP_REQUIRED_MESSAGE), "info")
        return redirect(url_for("auth.totp"))
    return redirect(_safe_next(next_url))


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("reports.home"))
    if request.method != "POST":
        return render_template("auth/login.html", username="")
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    row, wait = _begin_attempt(username)
    if wait is not None:
        return _refuse_throttled(row, username, wait,
                                 lambda: render_template("auth/login.html", username=username))
    user = db.session.scalar(select(User).where(User.username == username))
    if not (accounts.check_password(user, password) and user.is_active):
        return _refuse(username, user, "password", _("用户名或密码错误"),
                       lambda: render_template("auth/login.html", username=username))
    if user.totp_secret:
        # The password's attempt stays counted until the code is right: a known password must not
        # reset the count that guards the code.
        web_session["pending_login"] = {"uid": user.id, "sv": user.session_version or 0,
                                        "at": sessions.stamp(now()), "next": request.args.get("next")}
        return redirect(url_for("auth.login_code"))
    return _complete_login(user, second_factor_used=False, next_url=request.args.get("next"))


def _pending_user() -> tuple[User | None, dict]:
    pending = web_session.get("pending_login")
    if not isinstance(pending, dict) or not isinstance(pending.get("at"), int):
        return None, {}
    if now().timestamp() - pending["at"] > PENDING_SECONDS:
        web_session.pop("pending_login", None)
        flash(_("验证超时，请重新登录"), "error")
        return None, {}
    user = db.session.get(User, pending.get("uid"))
    if user is None or not user.is_active or not user.totp_secret or not session_is_current(user, pending.get("sv")):
        web_session.pop("pending_login", None)
        return None, {}
    return user, pending


@bp.route("/login/code", methods=["GET", "POST"])
def login_code():
    user, pending = _pending_user()
    if user is None:
        return redirect(url_for("auth.login"))
    if request.method != "POST":
        return render_template("auth/code.html")
    row, wait = _begin_attempt(user.username)
    if wait is not None:
        return _refuse_throttled(row, user.username, wait, lambda: render_template("auth/code.html"))
    if not second_factor.accept_code(db.session, user, request.form.get("code", ""), now()):
        return _refuse(user.username, user, "second_factor", _("验证码不正确或已过期"),
                       lambda: render_template("auth/code.html"))
    web_session.pop("pending_login", None)
    return _complete_login(user, second_factor_used=True, next_url=pending.get("next"))


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    user = actor(current_user)
    audit.record_event(db.session, "logout", actor=user, object_type="user", object_id=user.id, ip=client_ip())
    # Ends this user's other sessions too: a copied cookie must not outlive the logout.
    end_sessions(db.session, user, now(), revoke_tokens=False)
    logout_user()
    for key in ("sv", "login_at", "seen_at"):
        web_session.pop(key, None)
    flash(_("您已退出登录"), "info")
    return redirect(url_for("auth.login"))


# ------------------------------------------------------------------------ one's second factor


@page(bp, "/account/totp", "account.second_factor", methods=["GET", "POST"])
def totp(user: User):
    required = policy.second_factor_required(user, setting("TOTP_REQUIRED_ROLES"))
    if request.method != "POST":
        return _totp_page(user, required)
    if request.form.get("action") == "disable":
        return _disable_totp(user, required)
    secret = web_session.get("totp_enrol")
    _unused, error = attempt(lambda: second_factor.enable(db.session, user, secret if isinstance(secret, str) else "",
                                                    request.form.get("code", ""), now(), ip=client_ip()),
                       lambda _result: _("两步验证已启用"))
    if error is not None:
        return _totp_page(user, required), error.status
    web_session.pop("totp_enrol", None)
    return redirect(url_for("reports.home") if required else url_for("auth.totp"))


def _disable_totp(user: User, required: bool):
    # A stolen session must not be able to guess its way to turning the second factor off.
    row, wait = _begin_attempt(user.username)
    if wait is not None:
        return _refuse_throttled(row, user.username, wait, lambda: _totp_page(user, required))
    _unused, error = attempt(lambda: second_factor.disable(db.session, user, request.form.get("code", ""), now(),
                                                     required=required, ip=client_ip()),
                       lambda _result: _("两步验证已关闭"))
    if error is None:
        throttle.withdraw(db.session, row)
        return redirect(url_for("auth.totp"))
    if error.code != "invalid_totp":  # only a wrong code counts as a failed attempt
        throttle.withdraw(db.session, row)
        db.session.commit()  # the refusal rolls back
    return _totp_page(user, required), error.status


def _totp_page(user: User, required: bool) -> str:
    if user.totp_secret:
        return render_template("account/totp.html", enabled=True, required=required)
    # The new secret waits in the signed session until a code confirms it; only then is it stored.
    secret = web_session.get("totp_enrol")
    if not isinstance(secret, str):
        secret = web_session["totp_enrol"] = second_factor.new_secret()
    uri = second_factor.provisioning_uri(secret, user.username)
    return render_template("account/totp.html", enabled=False, required=required, uri=uri,
                           qr=second_factor.qr_svg(uri), secret=second_factor.grouped(secret))
