"""The archive application: ``create_app`` builds it from defaults, the environment and overrides."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from archive_app import sqlite_locking  # noqa: F401  (registers SQLite's connection events)
from archive_app.config import load_config
from archive_app.extensions import csrf, db, login_manager, migrate

# The rooms are imported by the register_* steps, not here: importing one module of the package
# (``archive_app.policy``, say) must not pull in the pages, the API or the HTTP plumbing.

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = ROOT / "migrations"


def create_app(config: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Flask:
    """Build the application: defaults -> ARCHIVE_* environment -> ``config`` overrides."""
    from archive_app.http import ArchiveRequest, ArchiveSessionInterface, RowIdConverter

    app = Flask(__name__, template_folder=str(ROOT / "templates"))
    app.request_class = ArchiveRequest
    app.session_interface = ArchiveSessionInterface()
    app.url_map.converters["int"] = RowIdConverter
    app.config.update(load_config(environ, config))
    register_proxy(app)
    register_data_dir(app)
    register_pdf_font(app)
    register_extensions(app)
    register_sqlite_cache(app)
    register_i18n(app)
    register_audit_key(app)
    register_storage(app)
    register_queue(app)
    register_search(app)
    register_read_replica(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_template_helpers(app)
    register_commands(app)
    return app


def register_proxy(app: Flask) -> None:
    """Behind ARCHIVE_PROXY_HOPS trusted proxies, take the client's address and scheme from their
    X-Forwarded-For / X-Forwarded-Proto: else every client is the load balancer, and one address's
    failed log-ins (ARCHIVE_LOGIN_MAX_FAILURES_PER_ADDRESS) would be everyone's."""
    hops = int(app.config.get("PROXY_HOPS") or 0)
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def register_data_dir(app: Flask) -> None:
    """Make sure the embedded default's folders exist (the SQLite file needs its folder)."""
    Path(app.config["DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    Path(app.config["UPLOAD_TMP_DIR"]).mkdir(parents=True, exist_ok=True)
    if app.config.get("STORAGE_BACKEND") == "fs":
        Path(app.config["STORAGE_DIR"]).mkdir(parents=True, exist_ok=True)


def register_pdf_font(app: Flask) -> None:
    """Point the printed PDFs at the configured CJK font (loaded on the first PDF, not here)."""
    from archive_app.printing import fonts

    fonts.configure(app.config.get("PDF_FONT") or None)


def register_extensions(app: Flask) -> None:
    """Bind the unbound extension objects to this app."""
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    from archive_app.accounts import login_views  # noqa: F401  (registers the user and request loaders)


def register_sqlite_cache(app: Flask) -> None:
    """On SQLite, each connection's page cache (ARCHIVE_SQLITE_CACHE_MB), set as it connects."""
    with app.app_context():
        sqlite_locking.keep_pages_cached(db.engine, int(app.config["SQLITE_CACHE_MB"]))


def register_i18n(app: Flask) -> None:
    """Flask-Babel: the catalogues (compiled when stale), each request's language, the template helpers."""
    from archive_app import i18n

    i18n.init_app(app)


def register_audit_key(app: Flask) -> None:
    """Give the app's database its audit key (from the config, never stored in the database)."""
    from archive_app.audit.log import AuditKey, install_key

    with app.app_context():
        install_key(db.engine, AuditKey(app.config["AUDIT_KEY"]))


def register_storage(app: Flask) -> None:
    """Pick the blob store backend from the config (fs or s3)."""
    from storage import make_store

    app.extensions["blob_store"] = make_store(app.config)


def register_queue(app: Flask) -> None:
    """The background-job queue (Huey on SQLite or Redis) and its tasks."""
    from flask_sqlalchemy.session import Session

    from archive_app.finding import index_feed
    from archive_app.jobs import register_jobs
    from archive_app.wiring import enqueue

    register_jobs(app)
    index_feed.install(Session, enqueue)


def register_search(app: Flask) -> None:
    """On ARCHIVE_SEARCH_BACKEND=postgres, the index in the database, written by every flush that
    changes a record or a customer (index_feed); the Whoosh folder is opened on first use."""
    if app.config["SEARCH_BACKEND"] != "postgres":
        return
    from archive_app.finding import index_feed
    from search_index.postgres_backend import PostgresSearchIndex

    # the session's own connection: a search sees the transaction's writes, its commit commits them
    index = PostgresSearchIndex(connect=lambda: db.session.connection(), commit=db.session.commit)
    app.extensions["search_index"] = index
    with app.app_context():
        index_feed.write_inline(db.engine, index)


def register_read_replica(app: Flask) -> None:
    """With ARCHIVE_DATABASE_READ_URL, searches and list pages read from that replica (replica_reads);
    its session of a request is closed when the request ends."""
    if not app.config.get("DATABASE_READ_URL"):
        return
    from archive_app.replica_reads import ReadRouter, make_engine
    from archive_app.wiring import end_reads

    app.extensions["read_router"] = ReadRouter(make_engine(app.config["DATABASE_READ_URL"]))
    app.teardown_appcontext(end_reads)


def register_blueprints(app: Flask) -> None:
    """Every room's pages, the favicon, and the JSON API (one blueprint that each room's ``api`` module fills)."""
    # Importing a room's API module puts its routes on api_bp.
    from archive_app.accounts import api as _accounts_api  # noqa: F401
    from archive_app.accounts import language_views, login_views, self_views
    from archive_app.accounts import views as account_views
    from archive_app.api import bp as api_bp
    from archive_app.audit import api as _audit_api  # noqa: F401
    from archive_app.audit import views as audit_views
    from archive_app.backup import views as backup_views
    from archive_app.borrowing import api as _borrowing_api  # noqa: F401
    from archive_app.borrowing import views as borrowing_views
    from archive_app.corrections import api as _corrections_api  # noqa: F401
    from archive_app.corrections import views as correction_views
    from archive_app.finding import api as _finding_api  # noqa: F401
    from archive_app.finding import views as finding_views
    from archive_app.fixity import api as _fixity_api  # noqa: F401
    from archive_app.fixity import views as fixity_views
    from archive_app.http import register_favicon
    from archive_app.inbox import views as inbox_views
    from archive_app.intake import admission_views, bulk_views, customer_views, record_views, review_views
    from archive_app.intake import api as _intake_api  # noqa: F401
    from archive_app.registers import views as register_views
    from archive_app.reports import api as _reports_api  # noqa: F401
    from archive_app.reports import views as report_views
    from archive_app.retention import views as retention_views
    from archive_app.visits import api as _visits_api  # noqa: F401
    from archive_app.visits import views as visit_views

    register_favicon(app)
    for module in (login_views, customer_views, record_views, finding_views, borrowing_views, retention_views,
                   inbox_views, account_views, self_views, audit_views, backup_views, fixity_views, admission_views,
                   visit_views, correction_views, register_views, bulk_views,
                   review_views, report_views, language_views):
        app.register_blueprint(module.bp)
    app.register_blueprint(api_bp)
    # The API authenticates with tokens or checks the CSRF header itself (see api.api_auth).
    csrf.exempt(api_bp)


def register_error_handlers(app: Flask) -> None:
    """Errors (JSON under /api, a Chinese page elsewhere), one transaction per request, security headers,
    uploads refused before their bytes are read."""
    from archive_app.http import register_error_handlers as register
    from archive_app.http import register_input_guards, register_security_headers, register_unit_of_work

    register(app)
    register_unit_of_work(app)
    register_security_headers(app)
    register_input_guards(app)


def register_commands(app: Flask) -> None:
    """The ``archive`` sub-commands that need an application."""
    from archive_app.commands import register_commands as register

    register(app)


def register_template_helpers(app: Flask) -> None:
    """Vocabulary and the policy, available in every template.

    ``shown(record)`` is the policy's projection of a record for the signed-in user: every page
    that names a record met in a list (queue, desk, holds, batches, registers) names it through it.
    """
    from flask_login import current_user

    from archive_app import policy
    from archive_app import vocabulary as domain
    from archive_app.http import actor, local_time
    from archive_app.navigation import menus_for

    def shown(record):
        return policy.shown_record(actor(current_user), record)

    app.jinja_env.globals.update(domain=domain, can=policy.can, local_time=local_time, shown=shown,
                             menus_for=menus_for)


@event.listens_for(Engine, "do_connect")
def _socket_errors_are_interface_errors(dialect, conn_rec, cargs, cparams):
    # pg8000 lets a connection reset during its handshake escape as a bare OSError, which
    # SQLAlchemy does not wrap: raised as the driver's InterfaceError it becomes
    # sqlalchemy.exc.InterfaceError, which the error handlers answer as database_unavailable.
    try:
        return dialect.connect(*cargs, **cparams)
    except OSError as exc:
        interface_error = getattr(dialect.loaded_dbapi, "InterfaceError", None)
        if interface_error is None or isinstance(exc, interface_error):
            raise
        raise interface_error(f"connecting to the database failed: {exc}") from exc
