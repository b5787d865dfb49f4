"""A user's interface language: chosen on their account page, kept on their account, audited."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from archive_app import policy
from archive_app.accounts.models import User
from archive_app.audit import log as audit
from archive_app.errors import ValidationFailed
from archive_app.i18n import DEFAULT_LOCALE, LANGUAGES, _


def choose_language(session: Session, user: User, code: str, *, now: datetime) -> bool:
    """Make ``code`` (a key of LANGUAGES) ``user``'s interface language. Returns False when it already was
    (nothing written, nothing audited)."""
    policy.require(user, "account.language")
    if code not in LANGUAGES:
        raise ValidationFailed(_("不支持的界面语言"), code="unknown_language")
    previous = user.locale or DEFAULT_LOCALE
    if previous == code and user.locale is not None:
        return False
    user.locale = code
    audit.record_event(session, "user.language", actor=user, object_type="user", object_id=user.id, now=now,
                       details={"from": previous, "to": code})
    session.flush()
    return True


__all__ = ["choose_language"]
