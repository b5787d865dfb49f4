"""The production docker-compose.yml wires the app to PostgreSQL and object-locked MinIO correctly,
and runs two stateless web nodes behind one load balancer with the workers apart.

No Docker engine is needed: the file is parsed with PyYAML and checked against the settings the
app actually reads (archive_app.config.SETTINGS); the proxy's deploy/Caddyfile is read as text.
"""
from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from archive_app.config import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
CADDYFILE = ROOT / "deploy" / "Caddyfile"
WEB_NODES = ("app1", "app2")

# ${NAME} / ${NAME:?message} / ${NAME?message}: a value the operator must supply.
REQUIRED_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*:?\?[^}]*\}$")
ANY_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}")
SECRET_NAMES = ("PASSWORD", "SECRET", "ACCESS_KEY", "ROOT_USER", "AUDIT_KEY")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def _env(service: dict) -> dict[str, str]:
    """A service's environment as a dict, whether written as a mapping or a list of NAME=value."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {k: (None if v is None else str(v)) for k, v in env.items()}


@pytest.fixture(scope="module")
def app_env(services) -> dict[str, str]:
    return _env(services["app1"])


def _host_port(value: str) -> tuple[str, int | None]:
    parsed = urlsplit(value if "://" in value else f"//{value}")
    return parsed.hostname or "", parsed.port


def test_has_every_service(services):
    assert {"proxy", *WEB_NODES, "migrate", "worker", "db", "minio", "minio-init", "redis"} <= set(services)


def test_app_env_names_are_settings_the_app_reads(app_env):
    known = {s.env for s in SETTINGS}
    archive_vars = {name for name in app_env if name.startswith("ARCHIVE_")}
    assert archive_vars, "the app service sets no ARCHIVE_* variable"
    assert archive_vars <= known, f"not read by the app: {sorted(archive_vars - known)}"
    assert all(name.startswith("ARCHIVE_") for name in app_env), "the app reads only ARCHIVE_* variables"


def test_app_sets_what_production_needs(app_env):
    for name in ("ARCHIVE_DATABASE_URL", "ARCHIVE_STORAGE_BACKEND", "ARCHIVE_S3_ENDPOINT", "ARCHIVE_S3_ACCESS_KEY",
                 "ARCHIVE_S3_SECRET_KEY", "ARCHIVE_S3_BUCKET", "ARCHIVE_S3_OBJECT_LOCK", "ARCHIVE_SECRET_KEY",
                 "ARCHIVE_AUDIT_KEY"):
        assert app_env.get(name), f"{name} is not set for the app"
    assert app_env["ARCHIVE_STORAGE_BACKEND"] == "s3"
    setting = {s.env: s for s in SETTINGS}
    assert setting["ARCHIVE_S3_OBJECT_LOCK"].parse(app_env["ARCHIVE_S3_OBJECT_LOCK"]) is True
    # The compose network has no TLS between app and MinIO; the app's default (true) would fail.
    assert setting["ARCHIVE_S3_SECURE"].parse(app_env["ARCHIVE_S3_SECURE"]) is False


def _dependency_names() -> set[str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    return {re.match(r"[A-Za-z0-9_.-]+", d).group(0).lower().replace("_", "-") for d in deps}


def test_database_url_is_postgresql_on_the_db_service(app_env, services):
    url = app_env["ARCHIVE_DATABASE_URL"]
    scheme = url.split("://", 1)[0]
    assert scheme == "postgresql+pg8000"
    # The driver must be one the image installs (pip install of this project), or the app cannot start.
    assert scheme.split("+", 1)[1] in _dependency_names()
    # The password is a ${...} reference, which may contain characters urlsplit dislikes: drop it first.
    netloc = url.split("://", 1)[1].split("/", 1)[0]
    user_pw, _, host_port = netloc.rpartition("@")
    host, _, port = host_port.partition(":")
    assert host == "db"
    assert port in ("", "5432")
    db_env = _env(services["db"])
    assert user_pw.split(":", 1)[0] == db_env["POSTGRES_USER"]
    assert url.rsplit("/", 1)[1] == db_env["POSTGRES_DB"]
    password = user_pw.split(":", 1)[1]
    assert REQUIRED_REF.match(password), f"database password is not a required ${{...}} reference: {password}"
    # The app and the database read the same variable.
    assert ANY_REF.match(password).group(1) == ANY_REF.match(db_env["POSTGRES_PASSWORD"]).group(1)


def test_s3_endpoint_is_the_minio_service(app_env, services):
    host, port = _host_port(app_env["ARCHIVE_S3_ENDPOINT"])
    assert host == "minio"
    assert port == 9000  # MinIO's S3 API port (the console is on 9001)


def test_s3_credentials_match_minio(app_env, services):
    minio_env = _env(services["minio"])
    for app_name, minio_name in (("ARCHIVE_S3_ACCESS_KEY", "MINIO_ROOT_USER"),
                                 ("ARCHIVE_S3_SECRET_KEY", "MINIO_ROOT_PASSWORD")):
        app_ref = ANY_REF.fullmatch(app_env[app_name])
        minio_ref = ANY_REF.fullmatch(minio_env[minio_name])
        assert app_ref and minio_ref
        assert app_ref.group(1) == minio_ref.group(1), f"{app_name} and MinIO's {minio_name} differ"


def _secret_values(services) -> list[tuple[str, str, str | None]]:
    found = []
    for svc_name, svc in services.items():
        for name, value in _env(svc).items():
            if any(part in name for part in SECRET_NAMES):
                found.append((svc_name, name, value))
    return found


def test_no_secret_is_a_literal(services, app_env):
    secrets = _secret_values(services)
    names = {(svc, name) for svc, name, _ in secrets}
    assert {("app1", "ARCHIVE_SECRET_KEY"), ("app1", "ARCHIVE_AUDIT_KEY"), ("app1", "ARCHIVE_S3_SECRET_KEY"),
            ("app1", "ARCHIVE_S3_ACCESS_KEY"), ("db", "POSTGRES_PASSWORD"), ("minio", "MINIO_ROOT_PASSWORD")} <= names
    for svc, name, value in secrets:
        assert value is not None and REQUIRED_REF.match(value), \
            f"{svc}.{name} must be a ${{NAME:?message}} reference, not {value!r}"


def test_no_password_anywhere_in_the_file_is_hard_coded():
    text = COMPOSE.read_text(encoding="utf-8")
    for ref in ANY_REF.finditer(text):
        name, rest = ref.groups()
        if any(part in name for part in SECRET_NAMES):
            assert rest.startswith((":?", "?")), f"${{{name}{rest}}} has a default value"


def _shell_words(command) -> list[list[str]]:
    """Every shell command line of a compose `command` (list or string), split into words."""
    text = "\n".join(command) if isinstance(command, list) else str(command)
    lines = []
    for line in re.split(r"[\n;]|&&", text):
        line = line.strip()
        if line:
            lines.append(shlex.split(line, comments=True))
    return lines


def test_minio_init_creates_the_bucket_with_object_lock(services, app_env):
    init = services["minio-init"]
    bucket = app_env["ARCHIVE_S3_BUCKET"]
    words = _shell_words(init.get("command", "")) + _shell_words(init.get("entrypoint", ""))
    mb = [w for w in words if w[:2] == ["mc", "mb"]]
    assert mb, "minio-init never runs `mc mb`"
    targets = []
    for w in mb:
        assert "--with-lock" in w, f"bucket created without object lock: {w}"
        targets += [arg.split("/", 1)[1] for arg in w[2:] if not arg.startswith("-") and "/" in arg]
    assert bucket in targets, f"minio-init creates {targets}, the app uses {bucket!r}"
    assert init["depends_on"]["minio"]["condition"] == "service_healthy"


def test_app_waits_for_its_dependencies(services):
    for name in WEB_NODES:
        deps = services[name]["depends_on"]
        # the schema is brought up to date once, by the one-shot migrate service, before any node starts
        assert deps["migrate"]["condition"] == "service_completed_successfully"
        assert deps["minio"]["condition"] == "service_healthy"
        assert deps["minio-init"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["migrate"]["command"] == ["archive", "db", "upgrade"]
    assert services["worker"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "pg_isready" in str(services["db"]["healthcheck"]["test"])
    assert services["minio"]["healthcheck"]["test"]


def test_two_web_nodes_are_one_definition_and_keep_nothing_on_disk(services, app_env):
    first, second = (services[name] for name in WEB_NODES)
    assert first == second  # same image, command and settings: any node answers any request
    assert first["build"] in (".", {"context": "."})
    assert _env(first) == app_env
    setting = {s.env: s for s in SETTINGS}
    assert setting["ARCHIVE_STATELESS"].parse(app_env["ARCHIVE_STATELESS"]) is True
    # stateless: no volume at all, so nothing is shared between nodes, nor kept by one of them
    assert not first.get("volumes") and not second.get("volumes")
    # search in PostgreSQL (the default there), not an index folder each node would need to share
    assert app_env.get("ARCHIVE_SEARCH_BACKEND", "postgres") == "postgres"
    assert "ARCHIVE_INDEX_DIR" not in app_env
    words = first["command"]
    assert words[:2] == ["archive", "serve"] and "--no-worker" in words and words[words.index("--host") + 1] == "0.0.0.0"


def _node_port(service: dict) -> int:
    words = service["command"]
    return int(words[words.index("--port") + 1])


def test_only_the_proxy_publishes_a_port_and_it_balances_over_both_nodes(services, app_env):
    published = {name for name, svc in services.items() if svc.get("ports")}
    assert published == {"proxy"}
    proxy = services["proxy"]
    # Caddy (Apache-2.0): a small permissive proxy
    assert proxy["image"].split(":")[0] in ("caddy", "library/caddy")
    assert any(str(p).split(":")[-1] == "80" for p in proxy["ports"])
    assert any(str(v).startswith("./deploy/Caddyfile:") for v in proxy["volumes"])
    caddyfile = CADDYFILE.read_text(encoding="utf-8")
    lines = [line.split("#", 1)[0].strip() for line in caddyfile.splitlines()]
    upstreams = next(line for line in lines if line.startswith("reverse_proxy")).split()[1:]
    assert sorted(u for u in upstreams if u != "{") == sorted(f"{n}:{_node_port(services[n])}" for n in WEB_NODES)
    assert "lb_policy round_robin" in lines and any(line.startswith("health_uri ") for line in lines)
    assert ":80 {" in lines  # the port compose publishes
    assert set(WEB_NODES) <= set(proxy["depends_on"])
    # the nodes believe exactly the one proxy in front of them for the client's address
    assert setting_value(app_env, "ARCHIVE_PROXY_HOPS") == 1


def setting_value(env: dict[str, str], name: str):
    """A setting's value as the app parses it from ``env``."""
    return next(s for s in SETTINGS if s.env == name).parse(env[name])


def test_worker_shares_the_app_settings_and_queues_through_redis(services, app_env):
    worker = services["worker"]
    assert _env(worker) == app_env  # one anchor: the worker builds the very same app
    assert worker["command"] == ["archive", "worker"]
    assert not worker.get("ports")
    assert worker["image"] == services["app1"]["image"]  # the same build, its own service
    assert app_env["ARCHIVE_QUEUE_BACKEND"] == "redis"
    host, port = _host_port(app_env["ARCHIVE_REDIS_URL"])
    assert host == "redis" and port == 6379
    # nothing to share with the nodes on disk either: search is in PostgreSQL, page images in MinIO
    assert not worker.get("volumes")


def test_the_database_gets_a_cache_for_the_search_tables(services) -> None:
    """PostgreSQL's image default (128 MB of shared_buffers) reads the search tables' hot pages back
    from the OS on every search at 1,000,000 records: the compose file sets more, by default 2 GB,
    and the operator can change it."""
    args = services["db"]["command"]
    settings = dict(args[k + 1].split("=", 1) for k, a in enumerate(args) if a == "-c")
    ref = ANY_REF.fullmatch(settings["shared_buffers"])
    assert ref and ref.group(1) == "POSTGRES_SHARED_BUFFERS"
    default = ref.group(2).removeprefix(":-")
    assert default.endswith("GB") and int(default[:-2]) >= 1
    assert "effective_cache_size" in settings
