"""The JSON API under /api/v1: token or session auth, one error shape, an OpenAPI document.

The routes live in their rooms (``intake/api.py``, ``finding/api.py``, ``borrowing/api.py``,
``accounts/api.py``) on this one blueprint; each declares its OpenAPI entry next to its code.
"""
from __future__ import annotations

from functools import wraps
from typing import Callable

from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import ValidationError, validate_csrf

from archive_app.api.openapi import build_document, document
from archive_app.errors import DomainError, ValidationFailed
from archive_app.extensions import db
from archive_app.http import domain_error_response, error_response
from archive_app.i18n import _

bp = Blueprint("api", __name__, url_prefix="/api/v1")

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def api_auth(fn: Callable) -> Callable:
    """Require a token or a session; session writes must also carry the X-CSRFToken header."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return error_response(401, "unauthorized", _("请先登录或提供有效的 API 令牌"))
        if (request.method in UNSAFE and not request.environ.get("archive.token_auth")
                and current_app.config.get("WTF_CSRF_ENABLED", True)):
            try:
                validate_csrf(request.headers.get("X-CSRFToken", ""))
            except ValidationError:
                return error_response(400, "csrf_failed", _("缺少或无效的 X-CSRFToken 请求头"))
        return fn(*args, **kwargs)

    return wrapper


def route(method: str, path: str, summary: str, body: str | None = None,
          responses: dict[int, str] | None = None, query: dict[str, dict] | None = None,
          response: str | None = None) -> Callable:
    """Declare one API endpoint: its rule on the blueprint, its OpenAPI entry and its authentication.

    ``body`` names the request body's schema in ``openapi.SCHEMAS``; ``query`` maps each query
    parameter to its JSON schema; ``responses`` adds the endpoint's own status codes to the common ones;
    ``response`` names its success body's schema in ``openapi.SCHEMAS``, where one is declared.
    """

    def wrap(fn: Callable) -> Callable:
        documented = document(path, method, summary, body, responses, query, response)(api_auth(fn))
        return bp.route(path, methods=[method.upper()])(documented)

    return wrap


def json_body() -> dict:
    """The request's JSON object body (anything else is refused with ``invalid_json``)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationFailed(_("请求体须为 JSON 对象"), code="invalid_json")
    return data


def optional_body() -> dict:
    """A JSON object body, or {} when none was sent."""
    if not request.get_data(cache=True):
        return {}
    return json_body()


@route("GET", "/openapi.json", "This OpenAPI document")
def openapi():
    rules = [(r.rule, r.methods or set()) for r in current_app.url_map.iter_rules() if r.endpoint.startswith("api.")]
    return jsonify(build_document(rules))


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError):
    db.session.rollback()
    return domain_error_response(exc)
