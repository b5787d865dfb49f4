"""Users, their roles and departments, and personal API tokens."""
from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive_app.clock import utcnow
from archive_app.dbtypes import UTCDateTime
from archive_app.extensions import db
from archive_app.vocabulary import ROLE_LABELS


class Role(str, enum.Enum):
    """What a user does in the company (DOMAIN.md, "Who uses it")."""

    ARCHIVIST = "archivist"
    REVIEWER = "reviewer"
    STAFF = "staff"
    DEPT_HEAD = "dept_head"
    GENERAL_MANAGER = "general_manager"
    AUDITOR = "auditor"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self.value]


class Department(db.Model):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), nullable=True)
    # Highest 密级 (0 公开 … 3 机密) this user may see.
    clearance: Mapped[int] = mapped_column(Integer, default=1)
    is_active_flag: Mapped[bool] = mapped_column("is_active", Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Every session remembers the version it was opened under; raising it ends them all at once
    # (logout, password change, deactivation, role change), whichever process serves the next request.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Base32 TOTP secret once the user has confirmed a second factor; None = password only.
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The last 30-second step whose code was accepted: a code seen once (over a shoulder, in a proxy log)
    # is not accepted again.
    totp_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The interface language they chose (archive_app.i18n.LANGUAGES); None = the default, 简体中文.
    locale: Mapped[str | None] = mapped_column(String(16), nullable=True)

    department: Mapped[Department | None] = relationship()

    @property
    def is_active(self) -> bool:  # flask-login asks this
        return bool(self.is_active_flag)

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def header_name(self) -> str:
        """The name the page header shows before the role: the display name, or the username when
        the display name only repeats the role (the first administrator is made as "系统管理员")."""
        return self.username if self.display_name in ("", self.role_enum.label) else self.display_name


class ApiToken(db.Model):
    """A personal API token; only its SHA-256 is stored, the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    user: Mapped[User] = relationship()


class LoginFailure(db.Model):
    """One refused log-in. Counted from the database so the limit holds across workers and nodes."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
