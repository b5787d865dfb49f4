"""Domain errors. Services raise them; the web and API layers turn them into 4xx responses.

Each error has a stable ``code`` (used by the API) and a Chinese ``message`` (shown in the UI).
"""
from __future__ import annotations

from typing import Any

from archive_app.i18n import _


class ConfigError(RuntimeError):
    """The application is misconfigured (raised at start-up, never per request)."""


class DomainError(Exception):
    """Base of every error a user can cause; carries an HTTP status, a stable code and a message."""

    status = 400
    code = "bad_request"
    # Set by ``policy.require`` on the refusals it raises: the action asked, the object it concerned,
    # and whether the refusal is a 404 hiding that the object exists (audited as a refusal all the same).
    policy_action: str | None = None
    subject: Any = None
    refusal: bool = False

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 details: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details or {}


class ValidationFailed(DomainError):
    status = 400
    code = "validation_failed"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class UnsupportedType(DomainError):
    status = 415
    code = "unsupported_type"


class TooLarge(DomainError):
    status = 413
    code = "too_large"


class BadFile(DomainError):
    status = 422
    code = "bad_file"


class StorageFailed(DomainError):
    status = 503
    code = "storage_unavailable"


def in_range(number: int, label: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """``number`` when ``minimum <= number <= maximum`` (default: the largest row id), else 400 ``invalid_parameter``.

    Every integer a request names passes here or through the URL converter, so none reaches the
    database too large for its column.
    """
    from archive_app.vocabulary import MAX_ROW_ID

    top = MAX_ROW_ID if maximum is None else maximum
    if not minimum <= number <= top:
        raise ValidationFailed(_("%(label)s超出范围（%(minimum)s–%(top)s）", label=label, minimum=minimum, top=top), code="invalid_parameter")
    return number
