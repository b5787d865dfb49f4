"""Ending a user's sessions and tokens at once, and how long one session may last.

A signed-in browser keeps the user's ``session_version`` from the moment it logged in; every request
compares it with the database. Raising the version therefore ends every open session of that user in
every worker and on every node, with no list of sessions to keep. ``SessionLimits`` ends one session
after idle time or its absolute lifetime (checked before every request by ``login_views``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

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


@dataclass(frozen=True)
class SessionLimits:
    """How long a signed-in browser session lives: idle time and absolute lifetime.

    The session stores its log-in and last-seen instants (whole seconds since the epoch, signed in
    the cookie, so the browser cannot move them); last-seen is rewritten at most every
    ``touch_every`` so the cookie is not re-sent on every request.
    """

    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)
    touch_every: timedelta = timedelta(minutes=1)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SessionLimits:
        """The limits from the app config (ARCHIVE_SESSION_IDLE_MINUTES, ARCHIVE_SESSION_MAX_HOURS)."""
        return cls(idle=timedelta(minutes=int(config["SESSION_IDLE_MINUTES"])),
                   lifetime=timedelta(hours=int(config["SESSION_MAX_HOURS"])))


def stamp(now: datetime) -> int:
    """``now`` as the whole seconds a session stores."""
    return int(now.timestamp())


def session_expired(limits: SessionLimits, logged_in_at: object, last_seen_at: object, now: datetime) -> bool:
    """True when a session that logged in at ``logged_in_at`` and was last seen at ``last_seen_at`` has ended.

    A session without both stamps (opened before they existed, or tampered with) has ended too.
    """
    if not isinstance(logged_in_at, int) or not isinstance(last_seen_at, int):
        return True
    t = now.timestamp()
    return t - logged_in_at >= limits.lifetime.total_seconds() or t - last_seen_at >= limits.idle.total_seconds()


def needs_touch(limits: SessionLimits, last_seen_at: int, now: datetime) -> bool:
    """Whether the last-seen stamp is old enough to be rewritten."""
    return now.timestamp() - last_seen_at >= limits.touch_every.total_seconds()
