"""Small helpers shared by the web views."""
from __future__ import annotations

from flask import Response, request

from ..models import User
from ..services import exports


def client_ip() -> str:
    """The client address as the WSGI server saw it (proxies must set REMOTE_ADDR properly)."""
    return request.remote_addr or ""


def form_dict(exclude: tuple[str, ...] = ("csrf_token",)) -> dict[str, str]:
    """The submitted form fields, minus CSRF and empty buttons."""
    return {k: v for k, v in request.form.items() if k not in exclude}


def page_arg() -> int:
    """The ?page= argument, at least 1."""
    try:
        return max(int(request.args.get("page", 1)), 1)
    except ValueError:
        return 1


def actor(user) -> User:
    """Unwrap flask-login's proxy into the User row the services expect."""
    return user._get_current_object() if hasattr(user, "_get_current_object") else user


def attachment(content: bytes, content_type: str, filename: str, ascii_filename: str) -> Response:
    """A file download of customer data: its (Chinese) name kept, and no browser or proxy cache copy."""
    # content_type, not mimetype: a CSV type already names its charset.
    resp = Response(content, content_type=content_type)
    resp.headers["Content-Disposition"] = exports.content_disposition(filename, ascii_filename)
    resp.headers["Cache-Control"] = "no-store"
    return resp
