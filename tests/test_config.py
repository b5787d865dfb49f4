"""Settings come from ARCHIVE_* variables, are documented in the README, and have no secret fallback."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from archive_app.config import SETTINGS, audit_key_path, ensure_audit_key, ensure_secret_key, load_config
from archive_app.errors import ConfigError

README = Path(__file__).resolve().parents[1] / "README.md"


def test_defaults_and_environment(tmp_path):
    env = {"ARCHIVE_DATA_DIR": str(tmp_path), "ARCHIVE_SECRET_KEY": "k", "ARCHIVE_AUDIT_KEY": "a",
           "ARCHIVE_MAX_UPLOAD_MB": "5",
           "ARCHIVE_S3_SECURE": "false", "ARCHIVE_FONDS_CODE": "J012"}
    cfg = load_config(env)
    assert cfg["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/archive.db"
    assert cfg["STORAGE_BACKEND"] == "fs" and cfg["STORAGE_DIR"] == f"{tmp_path}/blobs"
    assert cfg["MAX_CONTENT_LENGTH"] == 5 * 1024 * 1024
    assert cfg["S3_SECURE"] is False and cfg["TIMEZONE"] == "Asia/Shanghai" and cfg["FONDS_CODE"] == "J012"
    assert cfg["SESSION_COOKIE_HTTPONLY"] is True and cfg["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_no_secret_no_start(tmp_path):
    env = {"ARCHIVE_DATA_DIR": str(tmp_path), "ARCHIVE_AUDIT_KEY": "a"}
    with pytest.raises(ConfigError):
        load_config(env)
    key = ensure_secret_key(str(tmp_path))
    assert len(key) >= 40 and (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert ensure_secret_key(str(tmp_path)) == key  # generated once, then kept
    assert load_config(env)["SECRET_KEY"] == key


def test_no_audit_key_no_start(tmp_path):
    env = {"ARCHIVE_DATA_DIR": str(tmp_path), "ARCHIVE_SECRET_KEY": "k"}
    with pytest.raises(ConfigError, match=r"ARCHIVE_AUDIT_KEY is not set .*audit_key.*archive init"):
        load_config(env)
    assert load_config(env | {"ARCHIVE_AUDIT_KEY": "from-env"})["AUDIT_KEY"] == "from-env"
    elsewhere = tmp_path / "keys" / "audit"
    assert audit_key_path(env | {"ARCHIVE_AUDIT_KEY_FILE": str(elsewhere)}) == elsewhere
    key = ensure_audit_key(audit_key_path(env))
    assert len(key) >= 40 and (tmp_path / "audit_key").stat().st_mode & 0o777 == 0o600
    assert ensure_audit_key(tmp_path / "audit_key") == key  # never replaced: every MAC depends on it
    assert load_config(env)["AUDIT_KEY"] == key


def test_init_makes_the_audit_key_and_verify_audit_needs_it(tmp_path, monkeypatch):
    """`archive init` writes the audit key to a 0600 file, never to the database; without it nothing starts."""
    from click.testing import CliRunner

    from archive_app.cli import cli

    for name in [n for n in os.environ if n.startswith("ARCHIVE_")]:
        monkeypatch.delenv(name)
    env = {"ARCHIVE_DATA_DIR": str(tmp_path), "ARCHIVE_ADMIN_PASSWORD": "init-password-1"}
    runner = CliRunner()
    done = runner.invoke(cli, ["init"], env=env)
    assert done.exit_code == 0, done.output
    key_file = tmp_path / "audit_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = key_file.read_text().strip()
    assert runner.invoke(cli, ["init"], env=env).exit_code == 0 and key_file.read_text().strip() == key
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("archive.db*"))
    assert b"user.create" in stored and key.encode() not in stored
    ok = runner.invoke(cli, ["verify-audit"], env=env)
    assert ok.exit_code == 0 and "anchored at 1 entries" in ok.output, ok.output
    key_file.unlink()
    refused = runner.invoke(cli, ["verify-audit"], env=env)
    assert refused.exit_code != 0 and isinstance(refused.exception, ConfigError)
    assert "ARCHIVE_AUDIT_KEY is not set" in str(refused.exception)


def test_readme_documents_every_setting():
    text = README.read_text(encoding="utf-8")
    for s in SETTINGS:
        assert f"`{s.env}`" in text, s.env


def test_the_search_backend_follows_the_database_unless_chosen(tmp_path):
    env = {"ARCHIVE_DATA_DIR": str(tmp_path), "ARCHIVE_SECRET_KEY": "s", "ARCHIVE_AUDIT_KEY": "a"}
    pg = {"ARCHIVE_DATABASE_URL": "postgresql+pg8000://u@h/db"}
    assert load_config(env)["SEARCH_BACKEND"] == "whoosh"
    assert load_config(env | pg)["SEARCH_BACKEND"] == "postgres"
    assert load_config(env | pg | {"ARCHIVE_SEARCH_BACKEND": "Whoosh"})["SEARCH_BACKEND"] == "whoosh"
    with pytest.raises(ConfigError, match="needs ARCHIVE_DATABASE_URL on PostgreSQL"):
        load_config(env | {"ARCHIVE_SEARCH_BACKEND": "postgres"})
    with pytest.raises(ConfigError, match="ARCHIVE_SEARCH_BACKEND must be one of"):
        load_config(env | pg | {"ARCHIVE_SEARCH_BACKEND": "solr"})


def test_a_stateless_node_refuses_whatever_would_live_on_its_own_disk(tmp_path):
    shared = {"ARCHIVE_DATA_DIR": str(tmp_path), "ARCHIVE_STATELESS": "true",
              "ARCHIVE_DATABASE_URL": "postgresql+pg8000://u@h/db", "ARCHIVE_STORAGE_BACKEND": "s3",
              "ARCHIVE_QUEUE_BACKEND": "redis", "ARCHIVE_SECRET_KEY": "s", "ARCHIVE_AUDIT_KEY": "a"}
    cfg = load_config(shared | {"ARCHIVE_BACKUP_DIR": "s3://backups/archive"})
    assert cfg["STATELESS"] is True and cfg["SEARCH_BACKEND"] == "postgres"
    # keys in the data dir would be this node's own: a cookie signed here would fail on the next node
    ensure_secret_key(str(tmp_path))
    ensure_audit_key(tmp_path / "audit_key")
    without_keys = {k: v for k, v in shared.items() if k not in ("ARCHIVE_SECRET_KEY", "ARCHIVE_AUDIT_KEY")}
    with pytest.raises(ConfigError, match="ARCHIVE_SECRET_KEY must be set in the environment.*ARCHIVE_AUDIT_KEY must"):
        load_config(without_keys)
    assert load_config(without_keys | {"ARCHIVE_STATELESS": "false"})["SECRET_KEY"]  # one machine: the files do
    for name, value, says in (("ARCHIVE_DATABASE_URL", "sqlite:///x.db", "must be PostgreSQL"),
                              ("ARCHIVE_STORAGE_BACKEND", "fs", "must be s3"),
                              ("ARCHIVE_QUEUE_BACKEND", "sqlite", "must be redis"),
                              ("ARCHIVE_SEARCH_BACKEND", "whoosh", "must be postgres"),
                              ("ARCHIVE_BACKUP_DIR", "/var/backups", "must be empty or s3://")):
        with pytest.raises(ConfigError, match=f"ARCHIVE_STATELESS is on, but: .*{name} {says}"):
            load_config(shared | {name: value})
