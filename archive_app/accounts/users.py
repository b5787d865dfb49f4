"""Users, passwords (argon2id) and personal API tokens."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive_app import policy
from archive_app.accounts.models import ApiToken, Department, Role, User
from archive_app.accounts.passwords import check_new_password
from archive_app.audit import log as audit
from archive_app.clock import utcnow
from archive_app.errors import Conflict, ValidationFailed
from archive_app.i18n import _

_hasher = PasswordHasher()
# Verifying against a dummy hash when the user is unknown keeps login timing uniform.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return _hasher.hash(password)


def check_password(user: User | None, password: str) -> bool:
    """True when the password matches; always spends the same work."""
    try:
        return _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    except (VerificationError, InvalidHashError):
        return False


def get_or_create_department(session: Session, name: str) -> Department:
    """Return the department of that name, creating it if needed."""
    dept = session.scalar(select(Department).where(Department.name == name))
    if dept is None:
        dept = Department(name=name)
        session.add(dept)
        session.flush()
    return dept


def create_user(session: Session, *, username: str, password: str, role: str, display_name: str = "",
                department: str | None = None, clearance: int | None = None,
                actor: User | None = None, password_hash: str | None = None) -> User:
    """Create a user (not committed). Raises ValidationFailed or Conflict.

    ``password_hash`` takes an existing argon2 hash instead of a password (importing accounts).
    """
    username = username.strip()
    if not username or len(username) > 64:
        raise ValidationFailed(_("用户名不能为空，且不超过 64 个字符"), code="invalid_username")
    try:
        role_enum = Role(role)
    except ValueError:
        raise ValidationFailed(_("未知角色：%(role)s", role=role), code="invalid_role") from None
    if password_hash is None:
        check_new_password(password, username)
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict(_("用户名已存在"), code="username_taken")
    if clearance is None:
        clearance = policy.default_clearance(role_enum)
    if not 0 <= clearance <= 3:
        raise ValidationFailed(_("密级权限须在 0–3 之间"), code="invalid_clearance")
    dept = get_or_create_department(session, department) if department else None
    user = User(username=username, display_name=display_name or username, password_hash=password_hash or hash_password(password),
                role=role_enum.value, department=dept, clearance=clearance, is_active_flag=True)
    session.add(user)
    session.flush()
    audit.record_event(session, "user.create", actor=actor, actor_name="system" if actor is None else "",
                       object_type="user", object_id=user.id,
                       details={"username": username, "role": role_enum.value, "department": department,
                                "clearance": clearance})
    return user


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_api_token(session: Session, user: User, name: str) -> str:
    """Create a personal API token and return it; only its hash is kept."""
    token = "arc_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name or "token", token_hash=_token_digest(token)))
    audit.record_event(session, "token.create", actor=user, object_type="user", object_id=user.id,
                       details={"name": name})
    return token


def user_for_token(session: Session, token: str, now: datetime | None = None) -> User | None:
    """The active user owning an unrevoked token, or None."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_digest(token)))
    if row is None or row.revoked_at is not None or not row.user.is_active:
        return None
    row.last_used_at = now or utcnow()
    return row.user
