"""The TOTP second factor (RFC 6238, pyotp): enrolment, checking a code, turning it off.

A user turns it on by scanning a new secret into an authenticator app and confirming one code;
only then is ``User.totp_secret`` set, so a half-finished enrolment never locks anyone out. Codes
are six digits over 30-second steps and one step either side is accepted (phone clocks drift).
A code is accepted once: the step of the last accepted code is kept, and only later steps sign in.
"""
from __future__ import annotations

import hmac
import io
from datetime import datetime

import pyotp
import segno
from sqlalchemy.orm import Session

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.accounts.sessions import end_sessions
from archive_app.audit import log as audit
from archive_app.errors import Conflict, ValidationFailed
from archive_app.i18n import _

ISSUER = "客户档案管理系统"
# One step either side of the current one.
VALID_WINDOW = 1


def new_secret() -> str:
    """A fresh random base32 secret (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, username: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code (segno, no image files, no external service)."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=5, border=2, xmldecl=False, svgns=True,
                                    svgclass="totp-qr")
    return out.getvalue().decode("ascii")


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it in by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def matching_step(secret: str | None, code: str, now: datetime) -> int | None:
    """The 30-second step whose TOTP of ``secret`` is ``code`` (spaces allowed), within one step of
    ``now``; None when it matches none."""
    code = "".join(code.split())
    if not secret or len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def code_matches(secret: str | None, code: str, now: datetime) -> bool:
    """Whether ``code`` (spaces allowed) is the TOTP of ``secret`` at ``now``, give or take one step."""
    return matching_step(secret, code, now) is not None


def accept_code(session: Session, user: User, code: str, now: datetime) -> bool:
    """Whether ``code`` signs ``user`` in now: it must match and be of a later step than the last code
    accepted (flushed), so the same code cannot be used twice in its ~90 s window."""
    step = matching_step(user.totp_secret, code, now)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False
    user.totp_last_step = step
    session.flush()
    return True


def _require_code(secret: str | None, code: str, now: datetime) -> None:
    if not code_matches(secret, code, now):
        raise ValidationFailed(_("验证码不正确或已过期，请输入验证器应用当前显示的 6 位数字"), code="invalid_totp")


def enable(session: Session, user: User, secret: str, code: str, now: datetime, *, ip: str = "") -> None:
    """Turn the second factor on with ``secret`` once ``code`` proves the app holds it (flushed)."""
    if user.totp_secret:
        raise Conflict(_("两步验证已启用"), code="totp_enabled")
    _require_code(secret, code, now)
    user.totp_secret = secret
    user.totp_last_step = matching_step(secret, code, now)
    audit.record_event(session, "totp.enable", actor=user, object_type="user", object_id=user.id, ip=ip, now=now)
    session.flush()


def disable(session: Session, user: User, code: str, now: datetime, *, required: bool, ip: str = "") -> None:
    """Turn the user's own second factor off; needs a current code, and is refused if their role requires it."""
    if not user.totp_secret:
        raise Conflict(_("两步验证尚未启用"), code="totp_not_enabled")
    if required:
        raise Conflict(_("您的角色必须使用两步验证，不能关闭"), code="totp_required")
    _require_code(user.totp_secret, code, now)
    user.totp_secret = None
    audit.record_event(session, "totp.disable", actor=user, object_type="user", object_id=user.id, ip=ip, now=now)
    session.flush()


def reset(session: Session, actor: User, user: User, now: datetime, *, ip: str = "") -> None:
    """Remove ``user``'s second factor for them (an administrator's step when a phone is lost; flushed).

    The user enrols again at their next log-in if their role requires it.
    """
    policy.require(actor, "user.manage", code="forbidden", message=_("只有系统管理员可以重置他人的两步验证"))
    if not user.totp_secret:
        raise Conflict(_("该用户未启用两步验证"), code="totp_not_enabled")
    user.totp_secret = None
    # Whoever holds the lost phone may also hold an open session: end them.
    end_sessions(session, user, now, revoke_tokens=False)
    audit.record_event(session, "totp.reset", actor=actor, object_type="user", object_id=user.id, ip=ip, now=now)
    session.flush()
