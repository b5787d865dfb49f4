"""Settings come from ARCHIVE_* variables, are documented in the README, and have no secret fallback."""
from __future__ import annotations

from pathlib import Path

import pytest

from archive_app.config import SETTINGS, ensure_secret_key, load_config
from archive_app.errors import ConfigError

README = Path(__file__).resolve().parents[1] / "README.md"


def test_defaults_and_environment(tmp_path):
    env = {"ARCHIVE_DATA_DIR": str(tmp_path), "ARCHIVE_SECRET_KEY": "k", "ARCHIVE_MAX_UPLOAD_MB": "5",
           "ARCHIVE_S3_SECURE": "false", "ARCHIVE_FONDS_CODE": "J012"}
    cfg = load_config(env)
    assert cfg["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/archive.db"
    assert cfg["STORAGE_BACKEND"] == "fs" and cfg["STORAGE_DIR"] == f"{tmp_path}/blobs"
    assert cfg["MAX_CONTENT_LENGTH"] == 5 * 1024 * 1024
    assert cfg["S3_SECURE"] is False and cfg["TIMEZONE"] == "Asia/Shanghai" and cfg["FONDS_CODE"] == "J012"
    assert cfg["SESSION_COOKIE_HTTPONLY"] is True and cfg["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_no_secret_no_start(tmp_path):
    with pytest.raises(ConfigError):
        load_config({"ARCHIVE_DATA_DIR": str(tmp_path)})
    key = ensure_secret_key(str(tmp_path))
    assert len(key) >= 40 and (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert ensure_secret_key(str(tmp_path)) == key  # generated once, then kept
    assert load_config({"ARCHIVE_DATA_DIR": str(tmp_path)})["SECRET_KEY"] == key


def test_readme_documents_every_setting():
    text = README.read_text(encoding="utf-8")
    for s in SETTINGS:
        assert f"`{s.env}`" in text, s.env
