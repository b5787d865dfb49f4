"""The JSON API under /api/v1: token or session auth, one error shape, an OpenAPI document."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from archive_app.api import routes  # noqa: E402,F401  (registers the endpoints on bp)
