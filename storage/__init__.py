"""Blob storage for the archive's scanned documents.

Use :func:`make_store` with the app config to get a :class:`BlobStore`; the
backend is picked by ``STORAGE_BACKEND`` (``"fs"`` or ``"s3"``).  Only
:mod:`storage.minio_store` imports the MinIO SDK, and it is imported only
when the S3 backend is requested.
"""

from __future__ import annotations

from typing import Any, Mapping

from .base import (
    CHUNK_SIZE,
    MAX_KEY_LENGTH,
    MAX_SEGMENT_LENGTH,
    BlobExists,
    BlobNotFound,
    BlobStat,
    BlobStore,
    BlobTooLarge,
    HashingReader,
    InvalidKey,
    LockNotSupported,
    ObjectLocked,
    PutResult,
    RetentionInfo,
    RetentionViolation,
    StorageError,
    StorageUnavailable,
    UnfinishedUpload,
    normalize_retain_until,
    validate_key,
    validate_prefix,
)
from .filesystem import FilesystemStore

__all__ = [
    "CHUNK_SIZE",
    "MAX_KEY_LENGTH",
    "MAX_SEGMENT_LENGTH",
    "BACKENDS",
    "MinioStore",
    "BlobExists",
    "BlobNotFound",
    "BlobStat",
    "BlobStore",
    "BlobTooLarge",
    "FilesystemStore",
    "HashingReader",
    "InvalidKey",
    "LockNotSupported",
    "ObjectLocked",
    "PutResult",
    "RetentionInfo",
    "RetentionViolation",
    "StorageError",
    "StorageUnavailable",
    "UnfinishedUpload",
    "make_store",
    "normalize_retain_until",
    "validate_key",
    "validate_prefix",
]

#: Accepted values of ``STORAGE_BACKEND``.
BACKENDS = ("fs", "s3")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _as_bool(settings: Mapping[str, Any], name: str, default: bool = False) -> bool:
    # Config often comes from environment variables, where "false" is a
    # truthy string; accept the usual spellings and reject anything else.
    value = settings.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"{name} must be a boolean, got {value!r}")


def _required(settings: Mapping[str, Any], name: str, backend: str) -> Any:
    value = settings.get(name)
    if value is None or value == "":
        raise ValueError(f"{name} must be set when STORAGE_BACKEND is {backend!r}")
    return value


def make_store(settings: Mapping[str, Any]) -> BlobStore:
    """Build the blob store described by ``settings`` (e.g. a Flask config).

    ``STORAGE_BACKEND="fs"`` needs ``STORAGE_DIR``.  ``"s3"`` needs
    ``S3_ENDPOINT`` (``host:port``), ``S3_ACCESS_KEY``, ``S3_SECRET_KEY`` and
    ``S3_BUCKET``, and reads ``S3_SECURE`` (TLS, default False),
    ``S3_REGION`` (default ``"us-east-1"``) and ``S3_OBJECT_LOCK`` (create
    the bucket with Object Lock, default False).  Raises ValueError for an
    unknown backend or missing/invalid settings.  No network access happens
    here: the S3 bucket is checked on first use.
    """
    backend = settings.get("STORAGE_BACKEND")
    if backend == "fs":
        return FilesystemStore(_required(settings, "STORAGE_DIR", backend))
    if backend == "s3":
        from .minio_store import MinioStore  # keeps the SDK import off the fs path

        return MinioStore(
            str(_required(settings, "S3_ENDPOINT", backend)),
            str(_required(settings, "S3_ACCESS_KEY", backend)),
            str(_required(settings, "S3_SECRET_KEY", backend)),
            str(_required(settings, "S3_BUCKET", backend)),
            secure=_as_bool(settings, "S3_SECURE"),
            region=str(settings.get("S3_REGION") or "us-east-1"),
            object_lock=_as_bool(settings, "S3_OBJECT_LOCK"),
        )
    raise ValueError(
        f"unknown STORAGE_BACKEND {backend!r}; expected one of: {', '.join(repr(b) for b in BACKENDS)}"
    )


def __getattr__(name: str) -> Any:
    """Expose ``storage.MinioStore`` without importing the SDK eagerly."""
    if name == "MinioStore":
        from .minio_store import MinioStore

        return MinioStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
