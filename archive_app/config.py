"""Every setting of the application, read from ARCHIVE_* environment variables.

This module is the one place settings are documented; the README's table is generated from
``SETTINGS`` below by hand and a test checks the two agree.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from archive_app.errors import ConfigError


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _optional_bool(value: str) -> bool | None:
    # Empty means "as the setting it falls back to", which a plain bool could not say.
    return None if not value.strip() else _bool(value)


COOKIE_SECURE_MODES = ("auto", "true", "false")


def _cookie_secure(value: str) -> str:
    mode = value.strip().lower()
    if mode not in COOKIE_SECURE_MODES:
        raise ConfigError(f"ARCHIVE_COOKIE_SECURE must be one of {', '.join(COOKIE_SECURE_MODES)}, not {value!r}")
    return mode


SEARCH_BACKENDS = ("whoosh", "postgres")


def _search_backend(value: str) -> str:
    value = value.strip().lower()
    if value and value not in SEARCH_BACKENDS:
        raise ConfigError(f"ARCHIVE_SEARCH_BACKEND must be one of {', '.join(SEARCH_BACKENDS)}, not {value!r}")
    return value


def _roles(value: str) -> frozenset[str]:
    # A misspelt role would silently leave that role without its mandatory second factor.
    from archive_app.vocabulary import ROLE_LABELS

    roles = frozenset(part.strip() for part in value.split(",") if part.strip())
    unknown = sorted(roles - set(ROLE_LABELS))
    if unknown:
        raise ConfigError(f"unknown role(s) {', '.join(unknown)}; known: {', '.join(ROLE_LABELS)}")
    return roles


# Customer fields a change request may name (intake.customers.CustomerInput's, less grade, consultant and
# department, which have their own paths).
CORRECTABLE_FIELDS = ("kind", "name", "phones", "id_number", "business_type", "project", "unit", "address",
                      "notes", "deal_closed_on", "contract_ended_on", "last_contact_on")


def _customer_fields(value: str) -> frozenset[str]:
    # A misspelt field would silently let that field's changes through on one approval.
    names = frozenset(part.strip() for part in value.split(",") if part.strip())
    unknown = sorted(names - set(CORRECTABLE_FIELDS))
    if unknown:
        raise ConfigError(f"unknown customer field(s) {', '.join(unknown)}; known: {', '.join(CORRECTABLE_FIELDS)}")
    return names


@dataclass(frozen=True)
class Setting:
    """One environment variable: its name, the config key it fills, a default and a parser."""

    env: str
    key: str
    default: str | None
    parse: Callable[[str], Any]
    doc: str
    # Inclusive bounds of a number; a value outside stops the app at start-up.
    least: int | None = None
    most: int | None = None


# Defaults that depend on the data dir are written with {data_dir}.
SETTINGS: tuple[Setting, ...] = (
    Setting("ARCHIVE_DATA_DIR", "DATA_DIR", "./var", str,
            "Folder of the embedded default: SQLite file, file store, search index, secret key."),
    Setting("ARCHIVE_STATELESS", "STATELESS", "false", _bool,
            "This web node keeps nothing a request needs on its own disk, so any node behind the load balancer "
            "can answer any request: start-up refuses SQLite, the fs store, the sqlite queue, the Whoosh "
            "index, a local ARCHIVE_BACKUP_DIR and keys read from files (every node needs the same "
            "ARCHIVE_SECRET_KEY and ARCHIVE_AUDIT_KEY from its environment). docker-compose sets it."),
    Setting("ARCHIVE_DATABASE_URL", "SQLALCHEMY_DATABASE_URI", "sqlite:///{data_dir}/archive.db", str,
            "SQLAlchemy URL, e.g. postgresql+pg8000://user:pw@host/db."),
    Setting("ARCHIVE_DATABASE_READ_URL", "DATABASE_READ_URL", "", str,
            "SQLAlchemy URL of a read-only streaming replica of ARCHIVE_DATABASE_URL (PostgreSQL both): "
            "searches and list pages read from it (empty: no replica). The replica proposes, the primary "
            "decides: users, grants and each shown row's access are read from the primary; a user's reads "
            "after their own write wait for the replica to replay it, else go to the primary, as they do "
            "while the replica is down."),
    Setting("ARCHIVE_SQLITE_CACHE_MB", "SQLITE_CACHE_MB", "64", int,
            "On SQLite, the database pages each connection keeps in memory, in MiB (filled only as pages are "
            "read; 0: SQLite's own 2 MiB). The report pages read large indexes again and again.", least=0),
    Setting("ARCHIVE_SECRET_KEY", "SECRET_KEY", None, str,
            "Session signing key. No built-in fallback: if unset, read from {data_dir}/secret_key, "
            "which `archive init` creates."),
    Setting("ARCHIVE_STORAGE_BACKEND", "STORAGE_BACKEND", "fs", str, "fs (local folder) or s3 (MinIO)."),
    Setting("ARCHIVE_STORAGE_DIR", "STORAGE_DIR", "{data_dir}/blobs", str, "Root folder of the fs backend."),
    Setting("ARCHIVE_S3_ENDPOINT", "S3_ENDPOINT", "127.0.0.1:9000", str, "MinIO host:port."),
    Setting("ARCHIVE_S3_ACCESS_KEY", "S3_ACCESS_KEY", "", str, "MinIO access key."),
    Setting("ARCHIVE_S3_SECRET_KEY", "S3_SECRET_KEY", "", str, "MinIO secret key."),
    Setting("ARCHIVE_S3_BUCKET", "S3_BUCKET", "archive", str, "Bucket holding every record's bytes."),
    Setting("ARCHIVE_S3_SECURE", "S3_SECURE", "true", _bool, "Use TLS to reach MinIO."),
    Setting("ARCHIVE_S3_REGION", "S3_REGION", "us-east-1", str, "Region name sent to MinIO."),
    Setting("ARCHIVE_S3_OBJECT_LOCK", "S3_OBJECT_LOCK", "false", _bool,
            "Create the bucket with S3 Object Lock (needed for retention enforcement)."),
    Setting("ARCHIVE_UPLOAD_TMP_DIR", "UPLOAD_TMP_DIR", "{data_dir}/tmp", str,
            "Where uploaded files are spooled; on the file store's filesystem they are linked, not copied."),
    Setting("ARCHIVE_ORPHAN_GRACE_HOURS", "ORPHAN_GRACE_HOURS", "24", int,
            "Hours `archive sweep-orphans` spares what may still be in flight: blobs no record points to "
            "and unfinished uploads (S3 multipart uploads, staging files) younger than this are kept."),
    Setting("ARCHIVE_INTAKE_FOLDER", "INTAKE_FOLDER", "", str,
            "Watched intake folder the worker polls every minute: files named 客户号_类型_日期.ext are filed "
            "(then moved to done/), others moved to rejected/ with a reason (empty: off)."),
    Setting("ARCHIVE_INTAKE_FOLDER_USER", "INTAKE_FOLDER_USER", "", str,
            "Archivist (username) the intake folder files as; empty: the system account intake-folder."),
    Setting("ARCHIVE_INDEX_DIR", "INDEX_DIR", "{data_dir}/index", str, "Search index folder (derived data)."),
    Setting("ARCHIVE_SEARCH_BACKEND", "SEARCH_BACKEND", "", _search_backend,
            "Search index: whoosh (a folder on this machine, updated after each commit) or postgres "
            "(tables in the database, written in the record's own transaction; PostgreSQL only). "
            "Default: postgres on PostgreSQL, whoosh on SQLite."),
    Setting("ARCHIVE_QUEUE_BACKEND", "QUEUE_BACKEND", "sqlite", str,
            "Background-job queue: sqlite (embedded, no server) or redis."),
    Setting("ARCHIVE_QUEUE_PATH", "QUEUE_PATH", "{data_dir}/queue.db", str, "SQLite file of the embedded queue."),
    Setting("ARCHIVE_REDIS_URL", "REDIS_URL", "redis://127.0.0.1:6379/0", str, "Redis URL of the redis queue."),
    Setting("ARCHIVE_QUEUE_NAME", "QUEUE_NAME", "archive", str, "Queue name (separates several archives on one Redis)."),
    Setting("ARCHIVE_WORKERS", "WORKERS", "2", int, "Worker processes started by `archive worker`."),
    Setting("ARCHIVE_WORKER_NICE", "WORKER_NICE", "10", int,
            "How much `archive worker` lowers its CPU priority (Unix nice, 0-19): OCR yields to pages.",
            least=0, most=19),
    Setting("ARCHIVE_OCR_THREADS", "OCR_THREADS", "0", int,
            "OCR threads of each worker process (0: every core): how many bands of a page are detected and "
            "how many batches of lines are recognised at once, one thread each. One file's pages are read "
            "one after another, so every core makes a single scan fastest; with several busy workers, "
            "cores / ARCHIVE_WORKERS avoids threads fighting over cores.", least=0, most=64),
    Setting("ARCHIVE_OCR_REC_MODEL", "OCR_REC_MODEL", "", str,
            "The OCR recogniser with int8 matrix products (~12 % less OCR CPU, same text); empty: the one "
            "scripts/install-ocr-model.sh builds, <venv>/share/archive/models/PP-OCRv6_rec_small.matmul-int8.onnx, "
            "or the float model from the rapidocr wheel when that is not built."),
    Setting("ARCHIVE_JOB_TIMEOUT", "JOB_TIMEOUT", "600", int,
            "Seconds one file's extraction may take before it is stopped and marked failed (0: no limit)."),
    Setting("ARCHIVE_JOB_LEASE_SECONDS", "JOB_LEASE_SECONDS", "30", int,
            "Seconds a worker's lease on a file's job lasts; renewed every third of it while the job runs. "
            "A job whose lease lapses (worker killed, machine lost) is taken again by the next sweep.", least=1),
    Setting("ARCHIVE_JOB_SWEEP_SECONDS", "JOB_SWEEP_SECONDS", "15", int,
            "Seconds between two sweeps for lapsed leases by each `archive worker`; a killed worker's job "
            "is taken again at most lease + sweep (+2) seconds after its last renewal (45 s by default).", least=1),
    Setting("ARCHIVE_MAX_UPLOAD_MB", "MAX_UPLOAD_MB", "1024", int, "Largest accepted request body, in MiB."),
    Setting("ARCHIVE_TIMEZONE", "TIMEZONE", "Asia/Shanghai", str, "Time zone for dates shown and due dates."),
    Setting("ARCHIVE_SENSITIVE_CUSTOMER_FIELDS", "SENSITIVE_CUSTOMER_FIELDS", "id_number,name", _customer_fields,
            "Customer fields whose change request needs a second approval (archivist or general manager) "
            "after the department head's."),
    Setting("ARCHIVE_LOAN_MAX_DAYS", "LOAN_MAX_DAYS", "7", int,
            "Longest borrowing window in days (past the same day only with a reason)."),
    Setting("ARCHIVE_LOAN_DECISION_HOURS", "LOAN_DECISION_HOURS", "48", int,
            "Hours a borrowing request may wait for a decision before it expires."),
    Setting("ARCHIVE_AUDIT_DENIALS_PER_MINUTE", "AUDIT_DENIALS_PER_MINUTE", "20", int,
            "Refused requests written to the audit log per user and minute; then one entry says the rest "
            "of that minute was not written one by one."),
    Setting("ARCHIVE_FIRST_FOLLOWUP_DAYS", "FIRST_FOLLOWUP_DAYS", "3", int,
            "Days after a customer's first visit (温馨卡) that the first follow-up call (回访) is due; the "
            "company's rule says 3-5.", least=1, most=30),
    Setting("ARCHIVE_FONDS_CODE", "FONDS_CODE", "0001", str, "全宗号: first part of every 档号."),
    Setting("ARCHIVE_COOKIE_SECURE", "COOKIE_SECURE", "auto", _cookie_secure,
            "Mark the session cookie Secure (sent over HTTPS only): auto (when the request came over HTTPS, "
            "or through a proxy whose X-Forwarded-Proto says https), true, or false."),
    Setting("ARCHIVE_PROXY_HOPS", "PROXY_HOPS", "0", int,
            "Reverse proxies in front of the app whose X-Forwarded-For / X-Forwarded-Proto are believed "
            "(0: none; docker-compose's load balancer: 1). Set it only when clients cannot reach the app "
            "directly, or they could name any address.", least=0, most=5),
    Setting("ARCHIVE_LOGIN_WINDOW_MINUTES", "LOGIN_WINDOW_MINUTES", "15", int,
            "Minutes over which failed log-ins are counted (per account and per client address)."),
    Setting("ARCHIVE_LOGIN_MAX_FAILURES", "LOGIN_MAX_FAILURES", "5", int,
            "Failed log-ins of one account within the window before each further try waits (30 s, doubling)."),
    Setting("ARCHIVE_LOGIN_MAX_FAILURES_PER_ADDRESS", "LOGIN_MAX_FAILURES_PER_ADDRESS", "20", int,
            "The same for one client address, whatever the account (offices share one NAT address)."),
    Setting("ARCHIVE_TOTP_REQUIRED_ROLES", "TOTP_REQUIRED_ROLES", "", _roles,
            "Comma-separated roles that must use a TOTP second factor, e.g. admin (docker-compose sets admin)."),
    Setting("ARCHIVE_SESSION_IDLE_MINUTES", "SESSION_IDLE_MINUTES", "30", int,
            "A signed-in browser session ends after this many minutes without a request."),
    Setting("ARCHIVE_SESSION_MAX_HOURS", "SESSION_MAX_HOURS", "12", int,
            "A signed-in browser session ends this many hours after log-in, however active."),
    Setting("ARCHIVE_ADMIN_PASSWORD", "ADMIN_PASSWORD", "", str,
            "Password of the first admin made by `archive init`; generated and printed once if unset."),
    Setting("ARCHIVE_AUDIT_KEY", "AUDIT_KEY", None, str,
            "Key of the audit log's MACs, kept outside the database. No built-in fallback: if unset, read from "
            "ARCHIVE_AUDIT_KEY_FILE, which `archive init` creates."),
    Setting("ARCHIVE_AUDIT_KEY_FILE", "AUDIT_KEY_FILE", "{data_dir}/audit_key", str,
            "File holding the audit key when ARCHIVE_AUDIT_KEY is unset (mode 600, made by `archive init`)."),
    Setting("ARCHIVE_BACKUP_DIR", "BACKUP_DIR", "", str,
            "Folder the worker backs up into every night "
            "(empty: no scheduled backup; `archive backup DEST` still works)."),
    Setting("ARCHIVE_BACKUP_HOUR", "BACKUP_HOUR", "3", int,
            "Hour of the day (0-23, UTC) of the worker's nightly backup.", least=0, most=23),
    Setting("ARCHIVE_BACKUP_KEEP", "BACKUP_KEEP", "7", int,
            "Backups the nightly run keeps in ARCHIVE_BACKUP_DIR; older ones and objects only they held are removed.",
            least=1),
    Setting("ARCHIVE_BACKUP_INCLUDE_AUDIT_KEY", "BACKUP_INCLUDE_AUDIT_KEY", "false", _bool,
            "Copy the audit key into each backup (mode 600). Off: keep the key yourself, restore needs it."),
    Setting("ARCHIVE_BACKUP_S3_ENDPOINT", "BACKUP_S3_ENDPOINT", "", str,
            "S3 server (host:port) of a backup destination s3://bucket/prefix; empty: ARCHIVE_S3_ENDPOINT."),
    Setting("ARCHIVE_BACKUP_S3_ACCESS_KEY", "BACKUP_S3_ACCESS_KEY", "", str,
            "Access key for the backup bucket; empty: ARCHIVE_S3_ACCESS_KEY."),
    Setting("ARCHIVE_BACKUP_S3_SECRET_KEY", "BACKUP_S3_SECRET_KEY", "", str,
            "Secret key for the backup bucket; empty: ARCHIVE_S3_SECRET_KEY."),
    Setting("ARCHIVE_BACKUP_S3_SECURE", "BACKUP_S3_SECURE", "", _optional_bool,
            "Use TLS to reach the backup S3 server; empty: as ARCHIVE_S3_SECURE."),
    Setting("ARCHIVE_BACKUP_S3_REGION", "BACKUP_S3_REGION", "", str,
            "Region name sent to the backup S3 server; empty: ARCHIVE_S3_REGION."),
    Setting("ARCHIVE_AUDIT_ANCHOR_MINUTES", "AUDIT_ANCHOR_MINUTES", "15", int,
            "Minutes between two anchors of the audit chain's head written to the store (1-60).", least=1, most=60),
    Setting("ARCHIVE_FIXITY_CYCLE_DAYS", "FIXITY_CYCLE_DAYS", "30", int,
            "The worker re-hashes a share of the stored originals each night so that every one is checked "
            "within this many days.", least=1),
    Setting("ARCHIVE_FIXITY_RATE_MB", "FIXITY_RATE_MB", "0", float,
            "Read rate limit of the nightly fixity check, in MB/s (0: unlimited)."),
    Setting("ARCHIVE_FIXITY_VERIFY_MAX_MB", "FIXITY_VERIFY_MAX_MB", "64", int,
            "Downloads of originals up to this size (MiB) are re-hashed before a byte is sent; larger ones "
            "are checked while they stream and cut off, and the file flagged, if they do not match."),
    Setting("ARCHIVE_PDF_FONT", "PDF_FONT", "", str,
            "TrueType CJK font embedded in printed PDFs (certificate, hand-out slip, searchable copies); "
            "empty: the one scripts/install-fonts.sh builds, <venv>/share/archive/fonts/NotoSansCJKsc-Regular.ttf."),
)


def load_config(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> dict:
    """Build the Flask config: defaults, then the environment, then explicit overrides (tests)."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    data_dir = str(overrides.get("DATA_DIR") or environ.get("ARCHIVE_DATA_DIR") or "./var")
    data_dir = str(Path(data_dir).expanduser().absolute())
    config: dict[str, Any] = {}
    for s in SETTINGS:
        raw = environ.get(s.env)
        if raw is None or raw == "":
            if s.default is None:
                continue
            raw = s.default.replace("{data_dir}", data_dir)
        config[s.key] = s.parse(raw)
    config["DATA_DIR"] = data_dir
    config.update(overrides)
    if config.get("STATELESS"):
        _check_stateless(config)
    _key_from_file(config, "SECRET_KEY", Path(config["DATA_DIR"]) / "secret_key",
                   "ARCHIVE_SECRET_KEY is not set and no secret_key file exists in the data dir; "
                   "run `archive init` first (the README's run command does).")
    _key_from_file(config, "AUDIT_KEY", Path(config["AUDIT_KEY_FILE"]),
                   f"ARCHIVE_AUDIT_KEY is not set and the audit key file {config['AUDIT_KEY_FILE']} does not "
                   "exist; run `archive init` first (it creates the file), or set ARCHIVE_AUDIT_KEY. Without it "
                   "no audit entry can be written or verified.")
    for s in SETTINGS:
        if config.get(s.key) is None or (s.least is None and s.most is None):
            continue
        value = int(config[s.key])
        if (s.least is not None and value < s.least) or (s.most is not None and value > s.most):
            span = f"between {s.least} and {s.most}" if s.most is not None else f"at least {s.least}"
            raise ConfigError(f"{s.env} must be {span} (got {value})")
    config["MAX_CONTENT_LENGTH"] = int(config["MAX_UPLOAD_MB"]) * 1024 * 1024
    _choose_search_backend(config)
    _check_read_url(config)
    # Non-file form fields held in memory; must exceed the 1 MiB multipart read size (uploads.py).
    config["MAX_FORM_MEMORY_SIZE"] = 4 * 1024 * 1024
    config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})
    # "auto" is decided per request (http.ArchiveSessionInterface); these are the fixed answers.
    config["SESSION_COOKIE_SECURE"] = config["COOKIE_SECURE"] == "true"
    # No page sets a remember-me cookie; were one added, it would never travel over plain HTTP.
    config["REMEMBER_COOKIE_SECURE"] = config["COOKIE_SECURE"] != "false"
    config["SESSION_COOKIE_HTTPONLY"] = True
    config["SESSION_COOKIE_SAMESITE"] = "Lax"
    config["REMEMBER_COOKIE_HTTPONLY"] = True
    config["REMEMBER_COOKIE_SAMESITE"] = "Lax"
    config["WTF_CSRF_TIME_LIMIT"] = None
    return config


def _choose_search_backend(config: dict[str, Any]) -> None:
    """Resolve the default search backend from the database URL; postgres needs PostgreSQL."""
    on_pg = str(config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("postgresql")
    backend = _search_backend(str(config.get("SEARCH_BACKEND") or ""))
    if not backend:
        backend = "postgres" if on_pg else "whoosh"
    if backend == "postgres" and not on_pg:
        raise ConfigError("ARCHIVE_SEARCH_BACKEND=postgres needs ARCHIVE_DATABASE_URL on PostgreSQL")
    config["SEARCH_BACKEND"] = backend


def _check_read_url(config: dict[str, Any]) -> None:
    """A read replica is a PostgreSQL standby of a PostgreSQL primary (WAL positions decide its use)."""
    read_url = str(config.get("DATABASE_READ_URL") or "")
    if not read_url:
        return
    if not str(config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("postgresql") \
            or not read_url.startswith("postgresql"):
        raise ConfigError("ARCHIVE_DATABASE_READ_URL needs ARCHIVE_DATABASE_URL and itself on PostgreSQL "
                          "(a streaming replica of the primary)")


def _check_stateless(config: dict[str, Any]) -> None:
    """Refuse, with every reason at once, a configuration that would keep request state on this node's disk.

    Called before the keys are read from files: a key file in one node's data dir would differ from
    the next node's, and a cookie signed on one would be refused by the other."""
    problems = []
    if not config.get("SECRET_KEY"):
        problems.append("ARCHIVE_SECRET_KEY must be set in the environment (the same on every node), "
                        "not read from the data dir's secret_key file")
    if not config.get("AUDIT_KEY"):
        problems.append("ARCHIVE_AUDIT_KEY must be set in the environment (the same on every node), "
                        "not read from ARCHIVE_AUDIT_KEY_FILE")
    if not str(config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("postgresql"):
        problems.append("ARCHIVE_DATABASE_URL must be PostgreSQL (a SQLite file is one machine's)")
    if config.get("STORAGE_BACKEND") != "s3":
        problems.append("ARCHIVE_STORAGE_BACKEND must be s3 (the fs store is a folder on this machine)")
    if config.get("QUEUE_BACKEND") != "redis":
        problems.append("ARCHIVE_QUEUE_BACKEND must be redis (the sqlite queue is a file on this machine)")
    if str(config.get("SEARCH_BACKEND") or "").strip().lower() == "whoosh":
        problems.append("ARCHIVE_SEARCH_BACKEND must be postgres (the Whoosh index is a folder on this machine)")
    backup_dir = str(config.get("BACKUP_DIR") or "")
    if backup_dir and not backup_dir.startswith("s3://"):
        problems.append("ARCHIVE_BACKUP_DIR must be empty or s3://bucket/prefix (the backup page lists it)")
    if problems:
        raise ConfigError("ARCHIVE_STATELESS is on, but: " + "; ".join(problems))


def _key_from_file(config: dict[str, Any], key: str, path: Path, missing: str) -> None:
    # A key not given in the environment is read from the file `archive init` made; none at all stops the app.
    if not config.get(key) and path.exists():
        config[key] = path.read_text().strip()
    if not config.get(key):
        raise ConfigError(missing)


def ensure_secret_key(data_dir: str) -> str:
    """Create {data_dir}/secret_key once (mode 600) and return the key."""
    return _ensure_key_file(Path(data_dir) / "secret_key")


def audit_key_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where the audit key file is: ARCHIVE_AUDIT_KEY_FILE, else its default in the data dir."""
    environ = os.environ if environ is None else environ
    data_dir = str(Path(environ.get("ARCHIVE_DATA_DIR") or "./var").expanduser().absolute())
    default = next(s.default for s in SETTINGS if s.env == "ARCHIVE_AUDIT_KEY_FILE")
    return Path(environ.get("ARCHIVE_AUDIT_KEY_FILE") or default.replace("{data_dir}", data_dir))


def ensure_audit_key(path: str | os.PathLike[str]) -> str:
    """Create the audit key file once (mode 600) and return the key; an existing file is never replaced,
    since every MAC in the log was made with it."""
    return _ensure_key_file(Path(path))


def _ensure_key_file(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
