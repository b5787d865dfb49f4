"""HTTP plumbing shared by the pages and the API: request parsing, responses, errors, transactions.

Nothing here decides anything about the archive: it reads requests (form fields, ?page=, the
client address, uploaded files spooled while they arrive), writes responses (downloads,
attachments, the one error shape: JSON under /api, a Chinese page elsewhere), makes each request
one unit of work, and routes a page to whatever the policy answers for its action (``page``).
"""
from __future__ import annotations

import functools
import hashlib
import logging
import re
import tempfile
from collections.abc import Callable
from datetime import date, datetime
from typing import IO, Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, Request, Response, current_app, flash, g, jsonify, render_template, request
from flask import session as web_session
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError
from sqlalchemy import exc as sa_exc
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, RequestURITooLarge
from werkzeug.formparser import FormDataParser, MultiPartParser
from werkzeug.routing import IntegerConverter

from archive_app import exports, policy
from archive_app.accounts.models import User
from archive_app.audit import denials
from archive_app.errors import DomainError, ValidationFailed, in_range
from archive_app.extensions import db
from archive_app.i18n import _, _l
from archive_app.intake.records import Download, IncomingFile
from archive_app.vocabulary import MAX_PAGE, MAX_ROW_ID
from archive_app.wiring import note_write, now

log = logging.getLogger(__name__)
T = TypeVar("T")


# ---------------------------------------------------------------------------------------- errors


HTTP_MESSAGES = {
    400: ("bad_request", _l("请求无效")),
    401: ("unauthorized", _l("请先登录")),
    403: ("forbidden", _l("您没有权限执行此操作")),
    404: ("not_found", _l("页面或档案不存在")),
    405: ("method_not_allowed", _l("不支持该请求方法")),
    408: ("request_timeout", _l("请求超时，请重试")),
    409: ("conflict", _l("操作与当前状态冲突，请刷新页面后重试")),
    413: ("too_large", _l("上传内容超过大小上限")),
    414: ("uri_too_long", _l("请求地址过长（检索词最多 200 个字），请缩短后重试")),
    415: ("unsupported_type", _l("不支持的文件类型")),
    429: ("too_many_requests", _l("请求过于频繁，请稍后重试")),
    431: ("headers_too_large", _l("请求头过大，请清除本站 Cookie 后重试")),
    500: ("internal_error", _l("系统内部错误，请稍后重试")),
    501: ("not_implemented", _l("不支持该请求")),
    503: ("unavailable", _l("服务暂时不可用，请稍后重试")),
}
# An HTTP error not named above: still a Chinese message (werkzeug's descriptions are English).
HTTP_FALLBACK = ("http_error", _l("请求失败，请稍后重试"))
# The longest request path and query string answered (gunicorn passes longer request lines on, see
# server.py): past it a Chinese 414 page instead of the server's English one.
MAX_URL_CHARS = 16_384


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


def _standalone_error_page(status: int, code: str, message: str, retry_after: int | None = None) -> str:
    # error.html extends base.html, which names the signed-in user (a query); this page is rendered
    # without Flask's context processors too, since flask-login's would load current_user.
    return current_app.jinja_env.get_template("error_standalone.html").render(
        status=status, code=code, message=message, retry_after=retry_after)


# ------------------------------------------------------------------------ database unavailable


# Seconds a client is asked to wait (Retry-After) when the database cannot be reached: long
# enough not to hammer a server that is restarting, short enough for a page refresh to find it back.
DATABASE_RETRY_AFTER = 30

DATABASE_UNAVAILABLE = ("database_unavailable", _l("数据库暂时无法连接，请稍后重试"))

# SQLSTATE classes of a server that cannot serve at all: 08 connection exception, 53 insufficient
# resources (too many connections), 57 operator intervention (shutting down, starting up).
_UNAVAILABLE_SQLSTATE_CLASSES = frozenset({"08", "53", "57"})


def database_unavailable(exc: BaseException | None) -> bool:
    """True when ``exc`` means the database cannot be reached now, not that a statement was wrong.

    Refused, cut or timed-out connections (the driver's InterfaceError / OperationalError, or any
    error after which SQLAlchemy invalidated the connection), a server refusing work while it
    starts or stops, and a connection pool that stayed exhausted.
    """
    if isinstance(exc, sa_exc.TimeoutError):
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated or isinstance(exc, (sa_exc.InterfaceError, sa_exc.OperationalError)):
        return True
    return _sqlstate(exc.orig)[:2] in _UNAVAILABLE_SQLSTATE_CLASSES


def _sqlstate(orig: BaseException | None) -> str:
    # pg8000 passes the server's error fields as a dict ('C' is the SQLSTATE); psycopg names it pgcode.
    fields = orig.args[0] if orig is not None and orig.args and isinstance(orig.args[0], dict) else {}
    return str(fields.get("C") or getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None) or "")


def database_unavailable_response() -> Response:
    """503 ``database_unavailable`` with Retry-After, built without touching the database.

    JSON under /api; elsewhere a Chinese page that needs no query (not even the signed-in user's
    name). The pool checks each connection before use (``pool_pre_ping``), so once the database
    is back the next request simply gets a fresh connection: nothing needs restarting.
    """
    g.database_unavailable = True  # the after-request hooks skip what would query
    code, message = DATABASE_UNAVAILABLE[0], str(DATABASE_UNAVAILABLE[1])
    if wants_json():
        response = jsonify({"error": {"code": code, "message": message}})
    else:
        response = current_app.make_response(
            _standalone_error_page(503, code, message, retry_after=DATABASE_RETRY_AFTER))
    response.status_code = 503
    response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
    response.headers["Cache-Control"] = "no-store"
    return response


def domain_error_response(exc: DomainError):
    """Answer a domain error; a refusal is written to the audit log first (``audit_refusal``)."""
    audit_refusal(exc, exc.status, exc.code)
    return error_response(exc.status, exc.code, exc.message, exc.details)


# Route arguments naming the object a refusal concerned, when the policy did not name it.
_OBJECT_ARGS = {"loan_id": "loan_request", "batch_id": "disposal_batch", "hold_id": "legal_hold"}


def _refusal_of(exc: Exception, code: str) -> denials.Refusal:
    args = dict(request.view_args or {})
    subject = getattr(exc, "subject", None)
    if getattr(subject, "id", None) is not None:
        object_type = re.sub(r"(?<!^)(?=[A-Z])", "_", type(subject).__name__).lower()  # LoanRequest -> loan_request
        object_id = str(subject.id)
    else:
        key = next((k for k in args if k.endswith("_id")), None)
        object_type, object_id = (_OBJECT_ARGS.get(key, key[:-3]), str(args[key])) if key else ("", "")
    return denials.Refusal(reason=code, method=request.method, path=request.path, object_type=object_type,
                           object_id=object_id, action=getattr(exc, "policy_action", None) or "",
                           hidden=getattr(exc, "refusal", False) and getattr(exc, "status", 0) == 404,
                           extra={"args": args} if args else {})


def audit_refusal(exc: Exception, status: int, code: str) -> None:
    """Write a refused request (any 403; a 404 the policy gave to hide an object) as ``access.denied``.

    The request's own transaction is rolled back first (a refused request keeps nothing), and the
    entry commits on its own: the 4xx answer would roll it back with everything else. The user
    sees the same answer either way; a log that cannot be written never turns a refusal into a 500.
    """
    if not (status == 403 or getattr(exc, "refusal", False)) or not current_user.is_authenticated:
        return
    user = actor(current_user)
    refusal = _refusal_of(exc, code)  # before the rollback expires the object it names
    db.session.rollback()
    try:
        denials.record_denial(db.session, user, refusal,
                              limit=current_app.config["AUDIT_DENIALS_PER_MINUTE"], now=now(), ip=client_ip())
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("could not write a refusal to the audit log")


def register_unit_of_work(app: Flask) -> None:
    """One request, one transaction: what the services did is committed once, after the view ran.

    Services flush and leave the commit to their caller; a response that reports an error (4xx,
    5xx) rolls everything back, so a refused or failed request leaves nothing half-written. Where
    a step must stand on its own (the blob-then-row protocol of uploads, each step of a
    destruction, an expiry found while approving), the service commits it itself and says why.
    """

    @app.after_request
    def _end_of_request(response: Response) -> Response:
        if response.status_code < 400:
            db.session.commit()
        else:
            try:
                db.session.rollback()
            except SQLAlchemyError:
                # Nothing was kept either way; the error already answered stays the answer.
                log.warning("rollback failed after an error response", exc_info=True)
        # even after an error: a step that committed on its own is a write its user may look for.
        # The user the request already loaded, if any (loading one here could fail after an outage).
        user = g.get("_login_user")
        note_write(request.method, user.id if user is not None and user.is_authenticated else None)
        return response


# Scripts and styles come from our own static files only: an injected <script>, style attribute or
# on…= handler does not run; nothing may frame a page, post a form elsewhere or load a plugin.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self'",
    "object-src 'none'", "base-uri 'self'", "form-action 'self'", "frame-ancestors 'none'",
))
# Files anyone may cache: they carry no customer data.
PUBLIC_PATHS = ("/static/", "/favicon.ico")


def register_security_headers(app: Flask) -> None:
    """Headers every response carries: the content security policy (no inline script or style,
    no framing: approve, destroy and create-user forms could be clicked through a frame), no type
    sniffing, no referrer outside the site (search URLs carry names and ID numbers), and no stored
    copy of a signed-in user's pages in any cache."""

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        # Without the database the signed-in user cannot be looked up; that answer is no-store anyway.
        signed_in = not g.get("database_unavailable") and current_user.is_authenticated
        if (signed_in and not request.path.startswith(PUBLIC_PATHS)
                and "no-store" not in headers.get("Cache-Control", "")):
            headers["Cache-Control"] = "private, no-store"
        return response


def register_favicon(app: Flask) -> None:
    """/favicon.ico, which browsers ask for on every site: the SVG icon pages link, drawn as an ICO."""

    @app.route("/favicon.ico")
    def favicon() -> Response:
        resp = Response(_favicon_ico(), mimetype="image/vnd.microsoft.icon")
        resp.headers["Cache-Control"] = "public, max-age=86400"
        return resp


@functools.cache
def _favicon_ico() -> bytes:
    import io

    from PIL import Image, ImageDraw

    # static/favicon.svg at 4x, so the 16 and 32 px sizes Pillow shrinks it to stay smooth.
    img = Image.new("RGBA", (128, 128), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((4, 4, 124, 124), radius=24, fill="#1d5fa8")
    draw.polygon([(36, 24), (76, 24), (96, 44), (96, 104), (36, 104)], fill="#ffffff")
    draw.polygon([(76, 24), (76, 44), (96, 44)], fill="#cfdcec")
    for y, end in ((60, 84), (76, 84), (92, 72)):
        draw.line((48, y, end, y), fill="#1d5fa8", width=8)
    out = io.BytesIO()
    img.save(out, format="ICO", sizes=[(16, 16), (32, 32), (48, 48)])
    return out.getvalue()


def request_is_https() -> bool:
    """Whether the browser reached us over HTTPS: directly, or through a proxy that says so.

    The proxy's X-Forwarded-Proto is believed from anyone: it only ever makes a cookie stricter.
    """
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.is_secure or forwarded == "https"


class ArchiveSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, whose cookie is Secure as ``ARCHIVE_COOKIE_SECURE`` says:
    ``auto`` marks it Secure whenever the request came over HTTPS, so a deployment behind TLS is
    covered without a setting while plain-HTTP development still logs in."""

    def get_cookie_secure(self, app: Flask) -> bool:
        if app.config.get("COOKIE_SECURE", "auto") == "auto":
            return request_is_https()
        return bool(app.config["SESSION_COOKIE_SECURE"])


def register_error_handlers(app: Flask) -> None:
    """Install the handlers on the app."""

    @app.before_request
    def _url_length():
        if len(request.full_path) > MAX_URL_CHARS:
            raise RequestURITooLarge()

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        return domain_error_response(exc)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        return error_response(400, "csrf_failed", _("页面已过期或来源不明，请刷新页面后重试"))

    @app.errorhandler(SQLAlchemyError)
    def _database(exc: SQLAlchemyError):
        if database_unavailable(exc):
            log.warning("database unavailable: %s", exc)
            return database_unavailable_response()
        return _unexpected(exc)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        # A failure after the view (the request's commit) reaches here wrapped in a 500.
        if database_unavailable(getattr(exc, "original_exception", None)):
            log.warning("database unavailable: %s", exc.original_exception)
            return database_unavailable_response()
        code, message = HTTP_MESSAGES.get(exc.code or 500, HTTP_FALLBACK)
        message = str(message)  # the lazy label, in the reader's language
        if exc.code == 413:
            mb = app.config["MAX_UPLOAD_MB"]
            message = _("上传内容超过大小上限（%(mb)s MB）", mb=mb)
        audit_refusal(exc, exc.code or 500, code)
        body, status = error_response(exc.code or 500, code, message)
        response = app.make_response((body, status))
        # A 405 says which methods the URL does take (werkzeug puts them in Allow).
        for name, value in exc.get_headers():
            if name.lower() == "allow":
                response.headers["Allow"] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        code, message = HTTP_MESSAGES[500]
        return error_response(500, code, str(message))


# ------------------------------------------------------------------------------- request helpers


def client_ip() -> str:
    """The client address as the WSGI server saw it (proxies must set REMOTE_ADDR properly)."""
    return request.remote_addr or ""


def form_dict(exclude: tuple[str, ...] = ("csrf_token",)) -> dict[str, str]:
    """The submitted form fields, minus CSRF and empty buttons."""
    return {k: v for k, v in request.form.items() if k not in exclude}




class RowIdConverter(IntegerConverter):
    """``<int:...>`` in every route: a number no id column can hold (past ``MAX_ROW_ID``) matches no route (404)."""

    def __init__(self, url_map: Any, fixed_digits: int = 0, min: int | None = None,  # noqa: A002 (werkzeug's names)
                 max: int | None = MAX_ROW_ID, signed: bool = False) -> None:  # noqa: A002
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def page_arg() -> int:
    """The ?page= argument, at least 1 (not a number: 1; past ``MAX_PAGE``: 400 ``invalid_parameter``)."""
    try:
        page = max(int(request.args.get("page", 1)), 1)
    except ValueError:
        return 1
    return in_range(page, _("页码"), maximum=MAX_PAGE)


def date_arg(value: str | None, label: str) -> date | None:
    """An ISO date from a form or query field (empty: None); ValidationFailed names ``label``."""
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed(_("%(label)s格式不正确（例如 2026-11-25）", label=label), code="invalid_date") from None


def optional_int(value: str | None) -> int | None:
    """An integer from a form or query field; None when empty or not a number."""
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def actor(user) -> User:
    """Unwrap flask-login's proxy into the User row the services expect."""
    return user._get_current_object() if hasattr(user, "_get_current_object") else user


def keep_this_session(user: User) -> None:
    """After a change that ended every session of ``user`` (``accounts.sessions.end_sessions``), keep the
    session making the change: it takes the user's new session version."""
    web_session["sv"] = user.session_version or 0


def page(bp: Blueprint, rule: str, action: str, *, message: str | None = None, **options: Any) -> Callable:
    """Route ``rule`` on ``bp`` to a view for signed-in users whom the policy lets do ``action``.

    The view receives the acting user first. ``message`` replaces the policy's refusal text.
    """
    def register(view: Callable) -> Callable:
        @functools.wraps(view)
        def run(*args: Any, **kwargs: Any) -> Any:
            user = actor(current_user)
            policy.require(user, action, message=message)
            return view(user, *args, **kwargs)
        # Kept on the view so the route table in the tests can be held against what really guards it.
        run.policy_action = action  # type: ignore[attr-defined]
        return bp.route(rule, **options)(login_required(run))
    return register


def attempt(action: Callable[[], T], success: Callable[[T], str] | None = None) -> tuple[T | None, DomainError | None]:
    """Run one page action: on a domain error roll back and flash its Chinese message, else flash ``success``.

    Returns (result, None) or (None, error), so the page can re-render its form with the error's status.
    """
    try:
        result = action()
    except DomainError as exc:
        db.session.rollback()
        audit_refusal(exc, exc.status, exc.code)
        flash(exc.message, "error")
        return None, exc
    if success is not None:
        flash(success(result), "success")
    return result, None


def attachment(content: bytes, content_type: str, filename: str, ascii_filename: str) -> Response:
    """A file download of customer data: its (Chinese) name kept, and no browser or proxy cache copy."""
    # content_type, not mimetype: a CSV type already names its charset.
    resp = Response(content, content_type=content_type)
    resp.headers["Content-Disposition"] = exports.content_disposition(filename, ascii_filename)
    resp.headers["Cache-Control"] = "no-store"
    return resp


# ------------------------------------------------------------ uploads: spooled while they arrive


# Read the body 1 MiB at a time: with werkzeug's 64 KiB reads, gunicorn's read-ahead buffer is
# copied around once per read, which halved the throughput of a 500 MB upload.
READ_SIZE = 1024 * 1024


class _LargeReadFormDataParser(FormDataParser):
    def _parse_multipart(self, stream, mimetype, content_length, options):
        parser = MultiPartParser(stream_factory=self.stream_factory, max_form_memory_size=self.max_form_memory_size,
                                 max_form_parts=self.max_form_parts, cls=self.cls, buffer_size=READ_SIZE)
        boundary = options.get("boundary", "").encode("ascii")
        if not boundary:
            raise ValueError("Missing boundary")
        form, files = parser.parse(stream, boundary, content_length)
        return stream, form, files


class HashingSpool:
    """A named temp file that computes the SHA-256 of what is written to it, as it is written.

    The store can then adopt the file without reading it again (``put_file(..., sha256=...)``).
    """

    def __init__(self, directory: str) -> None:
        self._file = tempfile.NamedTemporaryFile("wb+", dir=directory, prefix="upload-", suffix=".part")
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        return self._file.write(data)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def __getattr__(self, name: str) -> Any:  # read, seek, tell, flush, close, name, fileno …
        return getattr(self._file, name)

    def __enter__(self) -> "HashingSpool":
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()


class ArchiveRequest(Request):
    """Flask request whose uploaded files land in hashing named temp files (removed when closed)."""

    form_data_parser_class = _LargeReadFormDataParser

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None, content_length: int | None = None) -> IO[bytes]:
        return HashingSpool(current_app.config["UPLOAD_TMP_DIR"])  # type: ignore[return-value]


def receives_files(action: str) -> Callable:
    """Mark a view that takes uploaded files: only users whom the policy lets do ``action`` (a
    role-level action such as ``record.upload``) get their request body read (``register_upload_guard``)."""
    def mark(view: Callable) -> Callable:
        view.upload_action = action  # type: ignore[attr-defined]  # copied by functools.wraps
        return view
    return mark


def register_input_guards(app: Flask) -> None:
    """Checks that run before any view and before the CSRF check, in this order.

    Who may send files is decided before a byte of them is read. Reading ``request.form`` (CSRF checks it first) spools every file to the upload folder, so a
    refusal after that has already let an anonymous client fill the disk. This check runs before
    every other one and reads only headers: a multipart body from someone not signed in is answered
    like any anonymous request (401 under /api, the log-in page elsewhere), and one sent to an upload
    view by someone its action refuses gets 403.

    Then text no database keeps: a NUL character in a query argument, form field or JSON string is
    refused with 400 ``invalid_text`` (PostgreSQL refuses it outright, which would be a 500).
    """
    from flask_login import current_user as user

    def _refuse_before_body() -> Response | None:
        if request.mimetype != "multipart/form-data":
            return None
        if not user.is_authenticated:
            return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
        action = getattr(current_app.view_functions.get(request.endpoint or ""), "upload_action", None)
        if action is not None and not policy.can(actor(user), action):
            return error_response(403, "forbidden", _("您没有权限上传档案"))
        return None

    def _refuse_nul_text() -> Response | None:
        values: list[Any] = [v for _unused, v in request.args.items(multi=True)]
        if request.mimetype == "application/x-www-form-urlencoded":
            # Read even from anonymous clients (the log-in form): MAX_FORM_MEMORY_SIZE bounds it.
            values += [v for _unused, v in request.form.items(multi=True)]
        elif user.is_authenticated:  # anyone else's body is refused unread by the view
            if request.mimetype == "multipart/form-data":
                values += [v for _unused, v in request.form.items(multi=True)]
            elif request.is_json:
                values.append(request.get_json(silent=True))
        if any(_has_nul(v) for v in values):
            return error_response(400, "invalid_text", _("文本中不能含有空字符（\\0）"))
        return None

    app.before_request_funcs.setdefault(None, [])[:0] = [_refuse_before_body, _refuse_nul_text]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


# ------------------------------------------------------------------------------ files in and out


CHUNK = 1024 * 1024


def incoming_files(field: str = "files") -> list[IncomingFile]:
    """The uploaded files of a multipart request; werkzeug has spooled big ones to disk already."""
    return [_incoming(f) for f in request.files.getlist(field)
            if f is not None and (f.filename or f.content_length)]


def _incoming(f) -> IncomingFile:
    # ArchiveRequest spools every file to a HashingSpool; keep its path and digest so the store
    # can adopt the file without copying or re-reading it.
    if isinstance(f.stream, HashingSpool):
        return IncomingFile(filename=client_filename(f), stream=f.stream, path=f.stream.name,
                            sha256=f.stream.sha256)
    return IncomingFile(filename=client_filename(f), stream=f.stream)


_QUOTED_FILENAME = re.compile(r'(?:^|;)\s*filename\s*=\s*"((?:[^"\\]|\\.)*)"', re.IGNORECASE)


def client_filename(f) -> str:
    """A multipart file's name as the client wrote it (IncomingFile cleans it).

    Browsers send a name's backslashes unescaped, and werkzeug reads a backslash as an escape:
    ``C:\\scans\\a.pdf`` would become ``C:scansa.pdf`` and keep its folders in the name, while
    ``scans/a.pdf`` keeps its slash. The quoted value is read as sent (only ``\\"`` undone), so
    both kinds of path lose their folders alike.
    """
    disposition = f.headers.get("Content-Disposition", "")
    if "filename*" not in disposition.lower():  # an RFC 5987 name is percent-encoded: werkzeug's is right
        match = _QUOTED_FILENAME.search(disposition)
        if match:
            return match.group(1).replace('\\"', '"')
    return f.filename or "file"


def stream_response(download: Download, inline: bool = False) -> Response:
    """Stream a download (stored bytes or a watermarked copy) in chunks, closing its stream at the end.

    The file keeps its name; Content-Length is the length of what is actually sent.
    """
    stream = download.stream

    def generate():
        try:
            while chunk := stream.read(CHUNK):
                yield chunk
        finally:
            stream.close()

    disposition = "inline" if inline else "attachment"
    resp = Response(generate(), mimetype=download.mime_type, direct_passthrough=True)
    if download.size is not None:
        resp.headers["Content-Length"] = str(download.size)
    resp.headers["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(download.name)}"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = "private, no-store"
    if download.etag:
        resp.headers["ETag"] = f'"{download.etag}"'
    return resp


# --------------------------------------------------------------------------- time shown in pages


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Format an aware timestamp in ARCHIVE_TIMEZONE (empty string for None)."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).strftime(fmt)
