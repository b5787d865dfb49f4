"""Turn errors into responses: one JSON shape under /api, a Chinese page elsewhere."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .errors import DomainError

log = logging.getLogger(__name__)

HTTP_MESSAGES = {
    400: ("bad_request", "请求无效"),
    401: ("unauthorized", "请先登录"),
    403: ("forbidden", "您没有权限执行此操作"),
    404: ("not_found", "页面或档案不存在"),
    405: ("method_not_allowed", "不支持该请求方法"),
    413: ("too_large", "上传内容超过大小上限"),
    415: ("unsupported_type", "不支持的文件类型"),
    500: ("internal_error", "系统内部错误，请稍后重试"),
}


def wants_json() -> bool:
    """API paths and clients that ask for JSON get the JSON error shape."""
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(status: int, code: str, message: str, details: dict | None = None):
    """Render one error for the current request."""
    if wants_json():
        body = {"error": {"code": code, "message": message}}
        if details:
            body["error"]["details"] = details
        return jsonify(body), status
    return render_template("error.html", status=status, code=code, message=message, details=details or {}), status


def register(app: Flask) -> None:
    """Install the handlers on the app."""

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        return error_response(400, "csrf_failed", "页面已过期或来源不明，请刷新页面后重试")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        code, message = HTTP_MESSAGES.get(exc.code or 500, ("http_error", exc.description or "请求失败"))
        if exc.code == 413:
            mb = app.config["MAX_UPLOAD_MB"]
            message = f"上传内容超过大小上限（{mb} MB）"
        return error_response(exc.code or 500, code, message)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        code, message = HTTP_MESSAGES[500]
        return error_response(500, code, message)
