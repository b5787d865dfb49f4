"""API: who am I."""
from __future__ import annotations

from flask import jsonify
from flask_login import current_user

from archive_app.api import route
from archive_app.http import actor


@route("GET", "/me", "The authenticated user")
def me():
    u = actor(current_user)
    return jsonify({"id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role,
                    "department": u.department.name if u.department else None, "clearance": u.clearance})
