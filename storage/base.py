"""The blob-store interface shared by every storage backend.

A blob store maps *keys* (``customer/42/contract.pdf``) to immutable byte
strings.  Keys are write-once: a stored blob is never overwritten, only
deleted.  Backends stream data in bounded chunks, so a multi-gigabyte scan
never has to fit in memory, and they compute the SHA-256 and size of what they
store while writing it, so callers can record both without a second pass.
"""

from __future__ import annotations

import abc
import hashlib
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import BinaryIO, Iterator

__all__ = [
    "CHUNK_SIZE",
    "MAX_KEY_LENGTH",
    "MAX_SEGMENT_LENGTH",
    "BlobExists",
    "BlobNotFound",
    "BlobStat",
    "BlobStore",
    "BlobTooLarge",
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
    "normalize_retain_until",
    "validate_key",
    "validate_prefix",
]

#: Size of the chunks read from an input stream (1 MiB).
CHUNK_SIZE = 1024 * 1024

#: Longest key accepted by :func:`validate_key`.
MAX_KEY_LENGTH = 512

#: Longest key segment: NAME_MAX of common filesystems, so every valid key is
#: storable by the filesystem backend too.
MAX_SEGMENT_LENGTH = 255

# One key segment: letters, digits, dot, underscore, dash.  Deliberately ASCII
# only so a key means the same thing on every filesystem and in every S3 URL.
_SEGMENT_RE = re.compile(r"[A-Za-z0-9._-]+")
_PREFIX_RE = re.compile(r"[A-Za-z0-9._/-]*")

# The filesystem backend stages uploads under ``<root>/.tmp``; reserving that
# first segment for every backend keeps the contract identical across them.
RESERVED_FIRST_SEGMENT = ".tmp"


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class PutResult:
    """What :meth:`BlobStore.put` stored: the key, hex SHA-256 and byte size."""

    key: str
    sha256: str
    size: int


@dataclass(frozen=True)
class BlobStat:
    """Metadata of a stored blob. ``modified`` (UTC) lets the orphan sweep spare uploads in flight."""

    key: str
    size: int
    modified: datetime | None = None


@dataclass(frozen=True)
class RetentionInfo:
    """Object-lock state of a stored blob, as returned by :meth:`BlobStore.retention`.

    ``until`` is the retain-until date (aware, UTC, whole seconds) or None when
    none was ever set; it is reported even once it has passed, so use
    :meth:`locked` to ask whether it still protects the blob.  On a versioned
    S3 bucket both fields summarise every stored version of the key: the
    latest ``until`` of any version, and ``legal_hold`` if any version is held.
    """

    until: datetime | None = None
    legal_hold: bool = False

    def locked(self, now: datetime | None = None) -> bool:
        """True if a legal hold is on or the retention date is after ``now`` (default: current time)."""
        if self.legal_hold:
            return True
        if self.until is None:
            return False
        return self.until > (now or datetime.now(timezone.utc))


@dataclass(frozen=True)
class UnfinishedUpload:
    """Bytes of an upload the store began and never completed, as :meth:`BlobStore.abandoned_uploads` lists them.

    On S3 an unfinished multipart upload (its parts are stored, and billed, but no object shows
    them: ``keys()`` never lists it); on disk a staging file left in ``.tmp`` by a crash.
    ``upload_id`` is the backend's handle for :meth:`BlobStore.abort_upload`; ``key`` is the key
    the upload was meant for ('' when the backend cannot tell); ``started`` (UTC) when it began,
    or for a staging file when it was last written.
    """

    key: str
    upload_id: str
    started: datetime


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


class StorageError(Exception):
    """Base class of every error raised by a blob store."""


class BlobNotFound(StorageError):
    """The key does not name a stored blob."""


class BlobExists(StorageError):
    """A blob is already stored under the key; keys are write-once."""


class InvalidKey(StorageError, ValueError):
    """The key is malformed or would resolve outside the store."""


class StorageUnavailable(StorageError):
    """The backend is unreachable or failed an I/O operation.

    Also raised when the *input* stream given to :meth:`BlobStore.put` fails
    while being read: from the caller's point of view the upload failed and
    nothing was stored, which is the same situation.
    """


class ObjectLocked(StorageError):
    """The blob is protected by a retention date in the future or a legal hold.

    Raised by :meth:`BlobStore.delete` and :meth:`BlobStore.destroy` (a legal
    hold even when governance is bypassed).  Nothing was removed when the
    store could tell in advance; on S3 a refusal by the server itself (403
    AccessDenied on a delete) is reported the same way, and the object is then
    left as the server kept it.
    """

    def __init__(self, key: str, reason: str, info: "RetentionInfo | None" = None) -> None:
        self.key = key
        self.reason = reason
        self.info = info
        super().__init__(f"{key!r} is locked: {reason}")


class RetentionViolation(StorageError, ValueError):
    """:meth:`BlobStore.set_retention` was asked to shorten an existing retention date.

    Retention can only be extended.  ``current`` is the stored date,
    ``requested`` the refused one.  A blob locked longer than its disposal date
    needs no shortening: the destruction step bypasses governance retention.
    """

    def __init__(self, key: str, current: datetime, requested: datetime) -> None:
        self.key = key
        self.current = current
        self.requested = requested
        super().__init__(
            f"retention of {key!r} can only be extended: it is locked until "
            f"{current.isoformat()}, {requested.isoformat()} would shorten it"
        )


class LockNotSupported(StorageError):
    """The backend cannot lock objects (an S3 bucket created without Object Lock)."""


class BlobTooLarge(StorageError):
    """More than ``limit`` bytes arrived for one blob; nothing was stored."""

    def __init__(self, limit: int, message: str | None = None) -> None:
        self.limit = limit
        super().__init__(message or f"blob exceeds the size limit of {limit} bytes")


def normalize_retain_until(until: datetime) -> datetime:
    """Return ``until`` as an aware UTC datetime rounded *up* to a whole second.

    Both backends store retention dates with one-second precision (S3 keeps at
    most milliseconds); rounding up never makes a lock shorter than asked.
    Naive datetimes are refused (TypeError): a retention date must not depend
    on the server's local time zone.
    """
    if not isinstance(until, datetime):
        raise TypeError(f"retention date must be a datetime, not {type(until).__name__}")
    if until.tzinfo is None or until.utcoffset() is None:
        raise TypeError("retention date must be timezone-aware (use UTC)")
    until = until.astimezone(timezone.utc)
    if until.microsecond:
        until = until.replace(microsecond=0) + timedelta(seconds=1)
    return until


# --------------------------------------------------------------------------
# Key validation
# --------------------------------------------------------------------------


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it is a valid blob key, else raise InvalidKey.

    A key is 1..512 characters of ``/``-separated segments, each made of
    1..255 characters of ``[A-Za-z0-9._-]``; no empty, ``.`` or ``..`` segment, no leading or
    trailing ``/``, no backslash or NUL, and the first segment may not be the
    reserved ``.tmp``.
    """
    if not isinstance(key, str):
        raise InvalidKey(f"key must be a str, not {type(key).__name__}")
    if not key:
        raise InvalidKey("key must not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"key is longer than {MAX_KEY_LENGTH} characters")
    # Checked explicitly (the regex would reject them too) so the message
    # names the real problem: these are the classic traversal/injection bytes.
    if "\x00" in key:
        raise InvalidKey("key must not contain NUL")
    if "\\" in key:
        raise InvalidKey("key must not contain a backslash")
    if key.startswith("/"):
        raise InvalidKey("key must not start with '/'")
    segments = key.split("/")
    for segment in segments:
        if not segment:
            raise InvalidKey(f"key has an empty segment: {key!r}")
        if segment in (".", ".."):
            raise InvalidKey(f"key has a {segment!r} segment: {key!r}")
        if len(segment) > MAX_SEGMENT_LENGTH:
            raise InvalidKey(f"key segment is longer than {MAX_SEGMENT_LENGTH} characters")
        if not _SEGMENT_RE.fullmatch(segment):
            raise InvalidKey(f"key segment {segment!r} has characters outside [A-Za-z0-9._-]")
    if segments[0] == RESERVED_FIRST_SEGMENT:
        raise InvalidKey(f"keys may not start with the reserved segment {RESERVED_FIRST_SEGMENT!r}")
    return key


def validate_prefix(prefix: str) -> str:
    """Return ``prefix`` if it is usable for :meth:`BlobStore.keys`, else raise InvalidKey.

    A prefix is a plain string prefix of keys (``"cust/1"`` matches
    ``cust/1/a`` and ``cust/10/b``), so it may end in ``/`` or mid-segment;
    it is still limited to key characters and may not start with ``/``.
    """
    if not isinstance(prefix, str):
        raise InvalidKey(f"prefix must be a str, not {type(prefix).__name__}")
    if len(prefix) > MAX_KEY_LENGTH:
        raise InvalidKey(f"prefix is longer than {MAX_KEY_LENGTH} characters")
    if prefix.startswith("/") or not _PREFIX_RE.fullmatch(prefix):
        raise InvalidKey(f"invalid key prefix: {prefix!r}")
    return prefix


# --------------------------------------------------------------------------
# Streaming helper shared by the backends
# --------------------------------------------------------------------------


class HashingReader:
    """Read-only wrapper that hashes and counts bytes as they are read.

    Both backends pull the upload through this object (the filesystem store
    in its copy loop, the MinIO SDK via ``put_object``), so the SHA-256, the
    size and the size limit are implemented once.  Reading more than
    ``max_size`` bytes raises :class:`BlobTooLarge`; an ``OSError`` from the
    wrapped stream becomes :class:`StorageUnavailable`.
    """

    def __init__(self, raw: BinaryIO, max_size: int | None = None) -> None:
        if max_size is not None and max_size < 0:
            raise ValueError("max_size must be >= 0")
        self._raw = raw
        self._max_size = max_size
        self._hash = hashlib.sha256()
        self._size = 0

    @property
    def size(self) -> int:
        """Number of bytes read so far."""
        return self._size

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the bytes read so far."""
        return self._hash.hexdigest()

    def readable(self) -> bool:
        """Always True: this is a readable stream."""
        return True

    def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes (all remaining bytes when ``n`` < 0)."""
        if n is None or n < 0:
            # Honour "read everything" without one unbounded raw.read(): the
            # size limit must trip before an oversized blob is fully buffered.
            parts = []
            while chunk := self.read(CHUNK_SIZE):
                parts.append(chunk)
            return b"".join(parts)
        if n == 0:
            return b""
        if self._max_size is not None:
            # Never ask for more than one byte past the limit: that byte is
            # enough to know the blob is too large.
            n = min(n, self._max_size - self._size + 1)
        try:
            data = self._raw.read(n)
        except OSError as exc:
            raise StorageUnavailable(f"reading the input stream failed: {exc}") from exc
        if not data:
            return b""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"input stream returned {type(data).__name__}, expected bytes")
        data = bytes(data)
        self._size += len(data)
        if self._max_size is not None and self._size > self._max_size:
            raise BlobTooLarge(self._max_size)
        self._hash.update(data)
        return data

    def result(self, key: str) -> PutResult:
        """The :class:`PutResult` for everything read so far."""
        return PutResult(key=key, sha256=self.sha256, size=self._size)


# --------------------------------------------------------------------------
# The interface
# --------------------------------------------------------------------------


class BlobStore(abc.ABC):
    """Write-once blob storage addressed by validated keys.

    Every method validates its key with :func:`validate_key` (raising
    :class:`InvalidKey`) before touching the backend.  Backend failures are
    reported as :class:`StorageUnavailable`; a delete refused because of a
    retention date or legal hold as :class:`ObjectLocked`.
    """

    @abc.abstractmethod
    def put(
        self,
        key: str,
        stream: BinaryIO,
        *,
        max_size: int | None = None,
        content_type: str = "application/octet-stream",
    ) -> PutResult:
        """Store everything readable from ``stream`` under ``key``.

        The stream is read in bounded chunks and hashed while being written.
        Raises :class:`BlobExists` if the key is already stored,
        :class:`BlobTooLarge` if more than ``max_size`` bytes arrive and
        :class:`StorageUnavailable` if the backend (or the input stream)
        fails.  On every failure nothing is left stored under ``key``.
        """

    def put_file(
        self,
        key: str,
        path: str | os.PathLike[str],
        *,
        max_size: int | None = None,
        content_type: str = "application/octet-stream",
        sha256: str | None = None,
    ) -> PutResult:
        """Store a complete local file under ``key`` (same guarantees as :meth:`put`).

        The default streams the file through :meth:`put`; a store on the same disk may instead
        adopt the file without copying it (an upload spooled to disk is then written only once).
        ``sha256``, if given, is the digest the caller computed while writing the file; a store
        that adopts the file uses it instead of reading the file again. The caller must not
        modify the file afterwards.
        """
        try:
            fh = open(path, "rb")
        except OSError as exc:
            raise StorageUnavailable(f"cannot read {path}: {exc}") from exc
        with fh:
            return self.put(key, fh, max_size=max_size, content_type=content_type)

    @abc.abstractmethod
    def open(self, key: str) -> BinaryIO:
        """Return a readable binary stream of the blob; close it when done.

        Raises :class:`BlobNotFound` if there is no such blob.
        """

    @abc.abstractmethod
    def stat(self, key: str) -> BlobStat:
        """Return the blob's metadata; raises :class:`BlobNotFound` if missing."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Return True if a blob is stored under ``key``."""

    def written_before(self, key: str, cutoff: datetime) -> bool:
        """True when the blob was last written before ``cutoff`` (unknown time: False, so it is spared)."""
        modified = getattr(self.stat(key), "modified", None)
        return modified is not None and modified < cutoff

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the blob (every stored version of it); deleting a missing key is not an error.

        Raises :class:`ObjectLocked` and removes nothing if the blob has a
        retention date in the future or a legal hold (see :meth:`retention`).
        """

    @abc.abstractmethod
    def keys(self, prefix: str = "") -> Iterator[str]:
        """Yield every stored key starting with ``prefix`` (string prefix, recursive)."""

    # -- uploads a crash or an outage left unfinished ----------------------------

    def abandoned_uploads(self, older_than: datetime) -> list[UnfinishedUpload]:
        """Unfinished uploads begun (last written, for a staging file) before ``older_than``.

        ``older_than`` is the caller's grace: an upload still streaming is younger than it and
        is left alone. The default, for a store that leaves nothing half-written, lists nothing.
        """
        return []

    def abort_upload(self, upload: UnfinishedUpload) -> None:
        """Discard the stored bytes of one unfinished upload; one already finished or gone is not an error."""

    # -- retention and legal hold ---------------------------------------------
    #
    # The lock model is S3 Object Lock in governance mode, which the S3 store
    # delegates to the server and the filesystem store enforces itself:
    #   * a retention date in the future or a legal hold makes delete() and
    #     destroy() refuse with ObjectLocked;
    #   * retention can only be extended (RetentionViolation otherwise);
    #   * only destroy(bypass_governance=True) gets past a retention date, and
    #     nothing gets past a legal hold: it has to be lifted first.

    @abc.abstractmethod
    def lock_supported(self) -> bool:
        """True if this store really enforces retention and legal holds.

        The filesystem store always does (in the application); the S3 store
        only if its bucket has Object Lock enabled, which is read from the
        server (the bucket is created first if missing).  Callers that require
        storage-level locking should refuse to run when this is False.
        """

    @abc.abstractmethod
    def set_retention(self, key: str, until: datetime) -> None:
        """Keep the blob (every stored version) undeletable until ``until``, governance mode.

        ``until`` must be timezone-aware; it is stored in UTC, rounded up to a
        whole second (:func:`normalize_retain_until`).  Retention only ever
        grows: a date later than the current one extends it, the same date is
        a no-op, an earlier one raises :class:`RetentionViolation` and changes
        nothing.  A date that is not in the future sets nothing (S3 refuses
        past dates, and it would not protect anything); it still raises
        :class:`RetentionViolation` if the current date is later.

        Raises :class:`BlobNotFound` if the key is not stored and
        :class:`LockNotSupported` if the backend cannot lock objects.
        """

    @abc.abstractmethod
    def set_legal_hold(self, key: str, on: bool) -> None:
        """Place (``on=True``) or lift (``on=False``) a legal hold on the blob (every stored version).

        A held blob cannot be deleted or destroyed by any path, governance
        bypass included, whatever its retention date.  Idempotent.  Raises
        :class:`BlobNotFound` if the key is not stored and
        :class:`LockNotSupported` if the backend cannot lock objects.
        """

    @abc.abstractmethod
    def retention(self, key: str) -> RetentionInfo:
        """Return the blob's :class:`RetentionInfo`; raises :class:`BlobNotFound` if missing."""

    @abc.abstractmethod
    def destroy(self, key: str, *, bypass_governance: bool) -> None:
        """Remove every byte stored for ``key``: the blob, every stored version and its lock metadata.

        With ``bypass_governance=True`` a retention date does not stop it (S3:
        ``x-amz-bypass-governance-retention``); a legal hold always does, and
        raises :class:`ObjectLocked`.  Without the bypass it refuses exactly
        when :meth:`delete` would.  Destroying a key with nothing stored is not
        an error, so an interrupted destruction run can simply be repeated.
        If the backend does not confirm that nothing is left, it raises
        (:class:`ObjectLocked` or :class:`StorageUnavailable`); it never
        returns normally while a version of the blob remains.
        """
