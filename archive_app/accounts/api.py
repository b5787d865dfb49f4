"""API: who am I, my password, users (administrators) and API tokens."""
from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask_login import current_user

from archive_app.accounts import administration as admin_svc
from archive_app.accounts.models import ApiToken, User
from archive_app.api import json_body, optional_body, route
from archive_app.clock import utc_iso
from archive_app.errors import ValidationFailed, in_range
from archive_app.extensions import db
from archive_app.http import actor, keep_this_session
from archive_app.i18n import _
from archive_app.wiring import now


def user_dict(u: User) -> dict[str, Any]:
    """A user as the API shows it (never the password hash or second-factor secret)."""
    return {"id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role,
            "department": u.department.name if u.department else None, "clearance": u.clearance,
            "active": u.is_active, "deactivated_at": utc_iso(u.deactivated_at),
            "must_change_password": bool(u.must_change_password), "password_changed_at": utc_iso(u.password_changed_at)}


def token_dict(t: ApiToken) -> dict[str, Any]:
    """A token's metadata; the token itself was shown once, at creation, and is not stored."""
    return {"id": t.id, "name": t.name, "user_id": t.user_id, "username": t.user.username,
            "created_at": utc_iso(t.created_at), "last_used_at": utc_iso(t.last_used_at), "revoked_at": utc_iso(t.revoked_at)}


def _text(body: dict, key: str) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationFailed(_("%(key)s 须为字符串", key=key), code="invalid_field")
    return value


@route("GET", "/me", "The authenticated user")
def me():
    return jsonify(user_dict(actor(current_user)))


@route("POST", "/me/password", "Change my own password (current_password, new_password); ends my other sessions "
       "and revokes all my API tokens", body="PasswordChange")
def change_my_password():
    user = actor(current_user)
    body = json_body()
    revoked = admin_svc.change_own_password(db.session, user, current=_text(body, "current_password"),
                                            new=_text(body, "new_password"), now=now())
    if not request.environ.get("archive.token_auth"):
        keep_this_session(user)
    return jsonify({"changed": True, "tokens_revoked": revoked})


@route("GET", "/users", "Every account, active or not (administrators)")
def list_users():
    return jsonify({"items": [user_dict(u) for u in admin_svc.list_users(db.session, actor(current_user))]})


@route("PATCH", "/users/<int:user_id>", "Change a user's role, department and/or clearance, with a reason "
       "(administrators); ends the user's sessions and revokes their tokens", body="UserChange")
def change_user(user_id: int):
    body = json_body()
    target = admin_svc.get_user(db.session, user_id)
    fields = {k: body[k] for k in ("role", "department", "clearance") if k in body}
    admin_svc.change_user(db.session, actor(current_user), target, reason=_text(body, "reason"), now=now(), **fields)
    return jsonify(user_dict(target))


@route("POST", "/users/<int:user_id>/deactivate", "Deactivate a user and hand their customers and paper "
       "originals to successor_id (administrators)", body="UserDeactivation")
def deactivate_user(user_id: int):
    body = json_body()
    successor_id = body.get("successor_id")
    if isinstance(successor_id, float) and successor_id.is_integer():
        successor_id = int(successor_id)  # JSON has one kind of number: 7.0 is the integer 7
    if successor_id is not None and (isinstance(successor_id, bool) or not isinstance(successor_id, int)):
        raise ValidationFailed(_("successor_id 须为用户编号"), code="invalid_successor")
    if successor_id is not None:
        in_range(successor_id, "successor_id")
    target = admin_svc.get_user(db.session, user_id)
    handover = admin_svc.deactivate(db.session, actor(current_user), target,
                                    admin_svc.successor(db.session, successor_id), now=now(),
                                    note=_text(body, "note"))
    return jsonify({"user": user_dict(target), "handover": {
        "id": handover.id, "to": handover.to_user.username, "customers": handover.customers_count,
        "paper_loans": handover.paper_loans_count, "requests_revoked": handover.requests_revoked_count}})


@route("POST", "/users/<int:user_id>/reactivate", "Let a deactivated user sign in again (administrators)",
       body="UserReactivation")
def reactivate_user(user_id: int):
    target = admin_svc.get_user(db.session, user_id)
    admin_svc.reactivate(db.session, actor(current_user), target, now=now(), reason=_text(optional_body(), "reason"))
    return jsonify(user_dict(target))


@route("POST", "/users/<int:user_id>/password-reset", "Reset a user's password (administrators): the given "
       "password or a generated one, returned once; the user must change it at next sign-in",
       body="PasswordReset")
def reset_password(user_id: int):
    target = admin_svc.get_user(db.session, user_id)
    temporary = admin_svc.reset_password(db.session, actor(current_user), target, now=now(),
                                         password=_text(optional_body(), "password") or None)
    return jsonify({"user": user_dict(target), "temporary_password": temporary})


@route("GET", "/tokens", "My API tokens, newest first; ?all=1: every user's (administrators)")
def list_tokens():
    user = actor(current_user)
    owner = None if request.args.get("all") in ("1", "true") else user
    return jsonify({"items": [token_dict(t) for t in admin_svc.list_tokens(db.session, user, owner)]})


@route("DELETE", "/tokens/<int:token_id>", "Revoke an API token (my own; administrators: anyone's)")
def revoke_token(token_id: int):
    return jsonify(token_dict(admin_svc.revoke_token(db.session, actor(current_user), token_id, now=now())))
