"""Account administration: deactivate (with the handover), reactivate, change role, department or
clearance, reset a password; every user's own password change; API tokens listed and revoked.

Plain services: they take the session, the acting user and ``now``, ask the policy, flush and leave
the commit to their caller. Whatever changes what a user may do or proves who they are ends every
session they have open and revokes their tokens (``sessions.end_sessions``), so the change holds
from the user's very next request, in every worker.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive_app import policy
from archive_app.accounts.models import ApiToken, Role, User
from archive_app.accounts.passwords import check_new_password, generate_password
from archive_app.accounts.sessions import end_sessions, revoke_tokens_of
from archive_app.accounts.users import check_password, get_or_create_department, hash_password
from archive_app.audit import log as audit
from archive_app.borrowing import loans
from archive_app.borrowing.models import Handover
from archive_app.errors import Conflict, NotFound, ValidationFailed
from archive_app.i18n import _

# ``change_user`` leaves a field alone unless it is given.
UNCHANGED: Any = object()


def get_user(session: Session, user_id: int) -> User:
    """The user with this id, or NotFound(code="user_not_found")."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(_("用户不存在"), code="user_not_found")
    return user


def find_user(session: Session, username: str) -> User:
    """The user with this username, or NotFound(code="user_not_found")."""
    user = session.scalar(select(User).where(User.username == (username or "").strip()))
    if user is None:
        raise NotFound(_("用户不存在：%(username)s", username=username), code="user_not_found")
    return user


def successor(session: Session, user_id: int | None) -> User:
    """The colleague named to take over a departing user's customers and originals."""
    if not user_id:
        raise ValidationFailed(_("请选择交接人"), code="successor_required")
    try:
        return get_user(session, user_id)
    except NotFound:
        raise ValidationFailed(_("交接人不存在"), code="invalid_successor") from None


def list_users(session: Session, actor: User) -> list[User]:
    """Every account, active or not, in creation order (administrators only)."""
    policy.require(actor, "user.manage")
    return list(session.scalars(select(User).order_by(User.id)))


def _guard_last_admin(session: Session, user: User) -> None:
    """Refuse to take user administration away from the last active account that has it: nobody could
    give it back from the web or the API."""
    if not policy.can(user, "user.manage"):
        return
    others = session.scalar(select(func.count()).select_from(User)
                            .where(policy.users_who_may("user.manage"), User.id != user.id))
    if not others:
        raise Conflict(_("这是最后一位在职的系统管理员，不能停用或改为其他角色"), code="last_admin")


def deactivate(session: Session, actor: User, user: User, successor: User, *, now: datetime,
               note: str = "") -> Handover:
    """Deactivate ``user``: their customers and paper originals go to ``successor`` (a handover record),
    their open requests are revoked, and every session and token ends now."""
    policy.require(actor, "user.deactivate", code="forbidden", message=_("只有系统管理员可以停用账号"))
    if user.id == actor.id:
        raise Conflict(_("不能停用自己的账号"), code="cannot_deactivate_self")
    if user.is_active_flag:
        _guard_last_admin(session, user)
    handover = loans.deactivate_user(session, actor, user, successor, now=now, note=note)
    user.deactivated_at = now
    end_sessions(session, user, now, revoke_tokens=True)
    return handover


def reactivate(session: Session, actor: User, user: User, *, now: datetime, reason: str = "") -> None:
    """Let a deactivated user sign in again. Their old tokens stay revoked; the handover stays done."""
    policy.require(actor, "user.deactivate", code="forbidden", message=_("只有系统管理员可以启用账号"))
    if user.is_active_flag:
        raise Conflict(_("该账号已是启用状态"), code="already_active")
    user.is_active_flag = True
    user.deactivated_at = None
    audit.record_event(session, "user.reactivate", actor=actor, object_type="user", object_id=user.id, now=now,
                       details={"username": user.username, "reason": (reason or "").strip()})
    session.flush()


def _clearance(value: Any) -> int:
    try:
        level = int(value)
    except (TypeError, ValueError):
        level = -1
    if isinstance(value, bool) or not 0 <= level <= 3:
        raise ValidationFailed(_("密级权限须在 0–3 之间"), code="invalid_clearance")
    return level


def _snapshot(user: User) -> dict[str, Any]:
    return {"role": user.role, "department": user.department.name if user.department else None,
            "clearance": user.clearance}


def change_user(session: Session, actor: User, user: User, *, reason: str, now: datetime,
                role: Any = UNCHANGED, department: Any = UNCHANGED, clearance: Any = UNCHANGED) -> dict[str, Any]:
    """Change a user's role, department (a name; empty or None: no department) and/or clearance (0–3).

    A reason is required; the audit entry keeps the values before and after. Any change ends the
    user's sessions and revokes their tokens. Returns the fields that changed with their new values.
    """
    policy.require(actor, "user.manage", code="forbidden", message=_("只有系统管理员可以修改用户"))
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if not reason:
        raise ValidationFailed(_("请填写变更原因"), code="reason_required")
    before = _snapshot(user)
    wanted: dict[str, Any] = {}
    if role is not UNCHANGED:
        try:
            wanted["role"] = Role(role).value
        except ValueError:
            raise ValidationFailed(_("未知角色：%(role)s", role=role), code="invalid_role") from None
    if department is not UNCHANGED:
        if department is not None and not isinstance(department, str):
            raise ValidationFailed(_("部门须为名称"), code="invalid_department")
        name = (department or "").strip()
        if len(name) > 100:
            raise ValidationFailed(_("部门名称不超过 100 个字符"), code="invalid_department")
        wanted["department"] = name or None
    if clearance is not UNCHANGED:
        wanted["clearance"] = _clearance(clearance)
    changes = {k: v for k, v in wanted.items() if before[k] != v}
    if not changes:
        raise ValidationFailed(_("没有需要变更的内容"), code="no_change")
    if "role" in changes and user.is_active_flag and not policy.role_may(changes["role"], "user.manage"):
        _guard_last_admin(session, user)
    if "role" in changes:
        user.role = changes["role"]
    if "department" in changes:
        user.department = get_or_create_department(session, changes["department"]) if changes["department"] else None
    if "clearance" in changes:
        user.clearance = changes["clearance"]
    end_sessions(session, user, now, revoke_tokens=True)
    audit.record_event(session, "user.change", actor=actor, object_type="user", object_id=user.id, now=now,
                       details={"username": user.username, "reason": reason,
                                "before": {k: before[k] for k in changes}, "after": changes})
    session.flush()
    return changes


def reset_password(session: Session, actor: User, user: User, *, now: datetime, password: str | None = None) -> str:
    """Give ``user`` a temporary password (``password``, or a generated one) that they must change at
    their next sign-in; ends their sessions and tokens. Returns the temporary password (show it once)."""
    policy.require(actor, "user.manage", code="forbidden", message=_("只有系统管理员可以重置密码"))
    if password:
        check_new_password(password, user.username)
    temporary = password or generate_password()
    user.password_hash = hash_password(temporary)
    user.must_change_password = True
    user.password_changed_at = now
    end_sessions(session, user, now, revoke_tokens=True)
    audit.record_event(session, "user.password_reset", actor=actor, object_type="user", object_id=user.id, now=now,
                       details={"username": user.username, "generated": not password})
    session.flush()
    return temporary


def change_own_password(session: Session, user: User, *, current: str, new: str, now: datetime) -> int:
    """The user changes their own password, proving the current one. Ends every session of theirs (the
    caller keeps the one in use: store ``user.session_version`` in it again) and revokes their tokens.

    Returns the number of tokens revoked.
    """
    policy.require(user, "password.change")
    if not check_password(user, current or ""):
        raise ValidationFailed(_("当前密码不正确"), code="wrong_password")
    if new == current:
        raise ValidationFailed(_("新密码不能与当前密码相同"), code="same_password")
    check_new_password(new, user.username)
    user.password_hash = hash_password(new)
    user.must_change_password = False
    user.password_changed_at = now
    revoked = end_sessions(session, user, now, revoke_tokens=True)
    audit.record_event(session, "user.password_change", actor=user, object_type="user", object_id=user.id, now=now,
                       details={"username": user.username, "tokens_revoked": revoked})
    session.flush()
    return revoked


# ------------------------------------------------------------------------------------- API tokens


def list_tokens(session: Session, actor: User, owner: User | None) -> list[ApiToken]:
    """``owner``'s tokens (the actor's own, or anyone's for an admin), or every user's when ``owner`` is
    None (admin); newest first, revoked ones included."""
    policy.require(actor, "token.manage" if owner is not None and owner.id == actor.id else "token.manage_all")
    stmt = select(ApiToken).order_by(ApiToken.id.desc())
    if owner is not None:
        stmt = stmt.where(ApiToken.user_id == owner.id)
    return list(session.scalars(stmt))


def revoke_token(session: Session, actor: User, token_id: int, *, now: datetime) -> ApiToken:
    """Revoke one token: the owner's own, or any for an admin. Someone else's answers as a missing one."""
    token = session.get(ApiToken, token_id)
    if token is None or not policy.can(actor, "token.revoke", token):
        raise NotFound(_("令牌不存在"), code="token_not_found")
    if token.revoked_at is not None:
        raise Conflict(_("该令牌已撤销"), code="token_revoked")
    token.revoked_at = now
    audit.record_event(session, "token.revoke", actor=actor, object_type="user", object_id=token.user_id, now=now,
                       details={"token_id": token.id, "name": token.name, "owner": token.user.username})
    session.flush()
    return token


def revoke_all_tokens(session: Session, actor: User, owner: User, *, now: datetime) -> int:
    """Revoke every token ``owner`` still has (their own, or anyone's for an admin); returns how many."""
    policy.require(actor, "token.manage" if owner.id == actor.id else "token.manage_all")
    revoked = revoke_tokens_of(session, owner, now)
    audit.record_event(session, "token.revoke_all", actor=actor, object_type="user", object_id=owner.id, now=now,
                       details={"owner": owner.username, "revoked": revoked})
    session.flush()
    return revoked
