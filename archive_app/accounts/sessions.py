"""Ending a user's sessions and tokens at once.

A signed-in browser keeps the user's ``session_version`` from the moment it logged in; every request
compares it with the database. Raising the version therefore ends every open session of that user in
every worker and on every node, with no list of sessions to keep.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from archive_app.accounts.models import ApiToken, User


def end_sessions(session: Session, user: User, now: datetime, *, revoke_tokens: bool) -> int:
    """End every session of ``user``; with ``revoke_tokens`` also revoke their API tokens.

    Returns the number of tokens revoked. Nothing is committed.
    """
    user.session_version = (user.session_version or 0) + 1
    revoked = revoke_tokens_of(session, user, now) if revoke_tokens else 0
    session.flush()
    return revoked


def revoke_tokens_of(session: Session, user: User, now: datetime) -> int:
    """Revoke every API token ``user`` still has; returns how many. Nothing is committed."""
    return session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                           .values(revoked_at=now)).rowcount or 0


def session_is_current(user: User, remembered_version: object) -> bool:
    """True when a session opened under ``remembered_version`` is still valid for ``user``."""
    return isinstance(remembered_version, int) and remembered_version == (user.session_version or 0)
