"""Blob store on an S3-compatible object store (MinIO, AWS S3, ...).

This is the only module that imports the ``minio`` SDK.
"""

from __future__ import annotations

import io
import os
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import BinaryIO, Iterator

import certifi
import urllib3
from minio import Minio
from minio.commonconfig import GOVERNANCE
from minio.datatypes import Object, Upload
from minio.deleteobjects import DeleteObject
from minio.error import MinioException, S3Error
from minio.helpers import check_bucket_name
from minio.retention import Retention
from urllib3.util import Retry, Timeout

from .base import (
    CHUNK_SIZE,
    BlobExists,
    BlobNotFound,
    BlobStat,
    BlobStore,
    HashingReader,
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

__all__ = ["MinioStore", "PART_SIZE"]

#: Multipart part size.  Also the upper bound of what one upload holds in
#: memory at a time (the SDK buffers one part before sending it).
PART_SIZE = 16 * 1024 * 1024

_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchObject", "NoSuchVersion"})
_BUCKET_EXISTS_CODES = frozenset({"BucketAlreadyOwnedByYou", "BucketAlreadyExists"})
_NO_LOCK_CONFIG_CODES = frozenset({"ObjectLockConfigurationNotFoundError", "ObjectLockConfigurationNotFound"})

# Object-lock state of one object version, as HEAD reports it.  Read from the
# headers rather than GET ?retention / ?legal-hold: one request per version,
# and moto's server answers GET ?retention with the object body.
_H_RETAIN_UNTIL = "x-amz-object-lock-retain-until-date"
_H_LEGAL_HOLD = "x-amz-object-lock-legal-hold"


def _version_id(obj: Object) -> str | None:
    # An unversioned bucket lists its single version as "null"; addressing
    # the object without a version id is the same thing and portable.
    return None if obj.version_id in (None, "null") else obj.version_id


def _parse_lock_headers(headers) -> RetentionInfo:
    until = headers.get(_H_RETAIN_UNTIL)
    hold = (headers.get(_H_LEGAL_HOLD) or "").strip().upper() == "ON"
    if not until:
        return RetentionInfo(until=None, legal_hold=hold)
    try:
        parsed = datetime.fromisoformat(until.strip())
    except ValueError as exc:
        raise StorageUnavailable(f"unreadable {_H_RETAIN_UNTIL} header: {until!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return RetentionInfo(until=parsed.astimezone(timezone.utc), legal_hold=hold)


def _merge(infos: list[RetentionInfo]) -> RetentionInfo:
    dates = [i.until for i in infos if i.until is not None]
    return RetentionInfo(until=max(dates) if dates else None, legal_hold=any(i.legal_hold for i in infos))


def _lock_reason(info: RetentionInfo) -> str:
    if info.legal_hold:
        return "under legal hold"
    return f"retained until {info.until.isoformat() if info.until else '?'}"


def _http_client(secure: bool, connect_timeout: float, read_timeout: float) -> urllib3.PoolManager:
    """A PoolManager that gives up quickly on an unreachable endpoint.

    The SDK's default (5 min timeouts, 5 retries with backoff) turns an S3
    outage into requests hanging for many minutes; a web request should fail
    fast instead.  Read timeout is per socket read, not per transfer, so it
    does not limit large uploads or downloads.
    """
    kwargs: dict = {}
    if secure:
        kwargs.update(cert_reqs="CERT_REQUIRED", ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where())
    return urllib3.PoolManager(
        timeout=Timeout(connect=connect_timeout, read=read_timeout),
        maxsize=10,
        retries=Retry(
            total=2,
            connect=1,
            read=1,
            backoff_factor=0.2,
            status_forcelist=[500, 502, 503, 504],
        ),
        **kwargs,
    )


class _ObjectStream(io.RawIOBase):
    """Raw stream over a ``get_object`` response that releases the connection.

    Closing it closes the response *and* calls ``release_conn()``, which the
    SDK requires to return the connection to the pool.
    """

    def __init__(self, response: urllib3.BaseHTTPResponse, key: str) -> None:
        super().__init__()
        self._response = response
        self._key = key

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        try:
            data = self._response.read(len(buffer))
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageUnavailable(f"reading {self._key!r} failed: {exc}") from exc
        n = len(data)
        buffer[:n] = data
        return n

    def close(self) -> None:
        if not self.closed:
            try:
                self._response.close()
                self._response.release_conn()
            finally:
                super().close()


class MinioStore(BlobStore):
    """Blobs as objects in one S3 bucket, accessed with the MinIO SDK.

    The bucket is checked (and created when missing, with Object Lock when
    ``object_lock`` is true) lazily, on the first operation that needs it,
    not in the constructor: building the store never touches the network
    (it only validates the bucket name, raising ValueError),
    so an app can start while S3 is briefly down, and the first real
    operation reports :class:`StorageUnavailable` instead.

    Write-once is enforced by a ``stat_object`` check before uploading.  That
    check is not atomic with the upload; callers must not race two puts of
    the same key (the archive derives keys from unique ids).
    """

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        secure: bool = False,
        region: str = "us-east-1",
        object_lock: bool = False,
        connect_timeout: float = 2.0,
        read_timeout: float = 30.0,
    ) -> None:
        # Fail at configuration time (ValueError) rather than on first use.
        check_bucket_name(bucket, strict=True)
        self._bucket = bucket
        self._region = region
        self._object_lock = object_lock
        self._client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            # Passing the region skips the SDK's GetBucketLocation round trip.
            region=region,
            http_client=_http_client(secure, connect_timeout, read_timeout),
        )
        self._bucket_ready = False
        self._bucket_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MinioStore(bucket={self._bucket!r})"

    @property
    def bucket(self) -> str:
        """Name of the bucket holding the blobs."""
        return self._bucket

    @property
    def client(self) -> Minio:
        """The underlying ``Minio`` client (for backend-specific features)."""
        return self._client

    # -- helpers ---------------------------------------------------------------

    @contextmanager
    def _errors(self, key: str | None = None, *, locking: bool = False) -> Iterator[None]:
        """Translate SDK / transport exceptions into the storage error types.

        ``locking``: the block sets retention or legal holds, so S3's refusal
        on a bucket without Object Lock becomes :class:`LockNotSupported`.
        """
        try:
            yield
        except StorageError:
            raise
        except S3Error as exc:
            if exc.code in _NOT_FOUND_CODES:
                raise BlobNotFound(key or "") from exc
            if locking and (
                exc.code in _NO_LOCK_CONFIG_CODES
                or (exc.code == "InvalidRequest" and "lock" in (exc.message or "").lower())
            ):
                raise LockNotSupported(
                    f"bucket {self._bucket!r} has no Object Lock; cannot lock {key!r}: {exc.message}"
                ) from exc
            if exc.code == "NoSuchBucket":
                # Deleted behind our back: re-check (and recreate) next time.
                self._bucket_ready = False
            raise StorageUnavailable(f"S3 error on {key or self._bucket!r}: {exc.code}: {exc.message}") from exc
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageUnavailable(f"S3 endpoint failed on {key or self._bucket!r}: {exc}") from exc

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        with self._bucket_lock, self._errors():
            if self._bucket_ready:
                return
            if not self._client.bucket_exists(self._bucket):
                try:
                    self._client.make_bucket(self._bucket, location=self._region, object_lock=self._object_lock)
                except S3Error as exc:
                    # Another process creating it between the two calls is fine.
                    if exc.code not in _BUCKET_EXISTS_CODES:
                        raise
            self._bucket_ready = True

    def _versions(self, key: str) -> list[Object]:
        """Every stored version of ``key``, delete markers included (newest first)."""
        # A versioned bucket (always the case with Object Lock) keeps old
        # versions and turns a plain DELETE into a delete marker; only removing
        # every version id really deletes the blob.  On an unversioned bucket
        # the single listed version ("null") is the object itself.
        return [
            obj
            for obj in self._client.list_objects(self._bucket, prefix=key, include_version=True)
            if obj.object_name == key
        ]

    def _lock_states(self, key: str, versions: list[Object]) -> list[tuple[Object, RetentionInfo]]:
        """Retention/hold of each data version (delete markers cannot be locked)."""
        out = []
        for obj in versions:
            if obj.is_delete_marker:
                continue
            info = self._client.stat_object(self._bucket, key, version_id=_version_id(obj))
            out.append((obj, _parse_lock_headers(info.metadata)))
        return out

    def _remove_versions(self, key: str, versions: list[Object], *, bypass_governance: bool) -> None:
        """Delete the given versions in one DeleteObjects call; a refusal raises ObjectLocked."""
        if not versions:
            return
        targets = [DeleteObject(key, _version_id(obj)) for obj in versions]
        try:
            # remove_objects is lazy: list() sends the request(s).
            errors = list(self._client.remove_objects(self._bucket, targets, bypass_governance_mode=bypass_governance))
        except S3Error as exc:
            if exc.code == "AccessDenied":
                raise ObjectLocked(key, f"the server refused the delete: {exc.message}") from exc
            raise
        if not errors:
            return
        detail = "; ".join(f"{e.code}: {e.message}" for e in errors)
        if any(e.code == "AccessDenied" for e in errors):
            # S3 answers 403 AccessDenied for a version protected by Object Lock.
            raise ObjectLocked(key, f"the server refused to delete a version: {detail}")
        raise StorageUnavailable(f"deleting versions of {key!r} failed: {detail}")

    def _remove_all_versions(self, key: str) -> None:
        self._remove_versions(key, self._versions(key), bypass_governance=False)

    def _uploads(self, prefix: str | None = None) -> Iterator[Upload]:
        """Every unfinished multipart upload in the bucket (of keys starting with ``prefix``)."""
        # minio-py has no public call for this (7.2); the private helpers are
        # thin wrappers over ListMultipartUploads / AbortMultipartUpload.
        key_marker = upload_id_marker = None
        while True:
            result = self._client._list_multipart_uploads(
                self._bucket, prefix=prefix, key_marker=key_marker, upload_id_marker=upload_id_marker
            )
            yield from result.uploads
            if not result.is_truncated:
                return
            key_marker, upload_id_marker = result.next_key_marker, result.next_upload_id_marker

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self._client._abort_multipart_upload(self._bucket, key, upload_id)
        except S3Error as exc:
            if exc.code != "NoSuchUpload":  # finished or aborted meanwhile
                raise

    def _abort_uploads(self, key: str) -> None:
        """Abort unfinished multipart uploads of ``key``: their parts are stored bytes too."""
        for upload in list(self._uploads(key)):
            if upload.object_name == key and upload.upload_id:
                self._abort(key, upload.upload_id)

    # -- interface -------------------------------------------------------------

    def put(
        self,
        key: str,
        stream: BinaryIO,
        *,
        max_size: int | None = None,
        content_type: str = "application/octet-stream",
    ) -> PutResult:
        """Upload ``stream`` as a new object; see :meth:`BlobStore.put`."""
        validate_key(key)
        self._ensure_bucket()
        if self.exists(key):
            raise BlobExists(f"key already exists: {key!r}")
        reader = HashingReader(stream, max_size)
        try:
            with self._errors(key):
                self._client.put_object(
                    self._bucket,
                    key,
                    reader,  # type: ignore[arg-type]  # duck-typed: only .read() is used
                    length=-1,
                    part_size=PART_SIZE,
                    content_type=content_type,
                    # One part in flight bounds memory to ~one part and keeps
                    # failure handling sequential (the SDK aborts the
                    # multipart upload when anything raises).
                    num_parallel_uploads=1,
                )
        except BaseException:
            self._cleanup_failed_put(key)
            raise
        return reader.result(key)

    def _cleanup_failed_put(self, key: str) -> None:
        # S3 makes an object visible only on a successful PUT or
        # CompleteMultipartUpload, and the SDK aborts multipart uploads on
        # error, so normally there is nothing to remove.  This covers the
        # gap where the server committed the object but the response was lost.
        try:
            with self._errors(key):
                self._remove_all_versions(key)
        except StorageError:
            pass  # best effort: the original failure is what the caller needs

    def open(self, key: str) -> BinaryIO:
        """Stream the object; close the returned stream to free the connection."""
        validate_key(key)
        self._ensure_bucket()
        with self._errors(key):
            response = self._client.get_object(self._bucket, key)
        return io.BufferedReader(_ObjectStream(response, key), buffer_size=CHUNK_SIZE)  # type: ignore[return-value]

    def stat(self, key: str) -> BlobStat:
        """Size of the object; raises BlobNotFound if missing."""
        validate_key(key)
        self._ensure_bucket()
        with self._errors(key):
            info = self._client.stat_object(self._bucket, key)
        return BlobStat(key=key, size=int(info.size or 0), modified=info.last_modified)

    def exists(self, key: str) -> bool:
        """True if the object exists (its latest version is not a delete marker)."""
        try:
            self.stat(key)
        except BlobNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        """Remove the object and, in a versioned bucket, all its versions.

        Refuses with :class:`ObjectLocked`, removing nothing, if any version
        is under legal hold or retained until a future date; the server's own
        refusal (AccessDenied) is reported the same way.
        """
        validate_key(key)
        self._ensure_bucket()
        with self._errors(key):
            versions = self._versions(key)
            if not versions:
                return
            info = _merge([i for _, i in self._lock_states(key, versions)])
            if info.locked():
                raise ObjectLocked(key, _lock_reason(info), info)
            self._remove_versions(key, versions, bypass_governance=False)

    # -- retention and legal hold ----------------------------------------------

    def lock_supported(self) -> bool:
        """True if the bucket has Object Lock enabled (asks the server; creates the bucket if missing)."""
        self._ensure_bucket()
        with self._errors():
            try:
                self._client.get_object_lock_config(self._bucket)
            except S3Error as exc:
                if exc.code in _NO_LOCK_CONFIG_CODES:
                    return False
                raise
        return True

    def retention(self, key: str) -> RetentionInfo:
        """Latest retain-until date and legal hold over every stored version; BlobNotFound if none."""
        validate_key(key)
        self._ensure_bucket()
        with self._errors(key):
            states = self._lock_states(key, self._versions(key))
        if not states:
            raise BlobNotFound(key)
        return _merge([i for _, i in states])

    def set_retention(self, key: str, until: datetime) -> None:
        """Governance-mode retention until ``until`` on every stored version; see :meth:`BlobStore.set_retention`.

        The extend-only rule is checked here, for every version, before
        anything is changed: S3 itself refuses to shorten governance retention
        without the bypass header, but moto does not check it.
        """
        validate_key(key)
        until = normalize_retain_until(until)
        self._ensure_bucket()
        with self._errors(key, locking=True):
            states = self._lock_states(key, self._versions(key))
            if not states:
                raise BlobNotFound(key)
            for _, info in states:
                if info.until is not None and until < info.until:
                    raise RetentionViolation(key, info.until, until)
            if until <= datetime.now(timezone.utc):
                return
            config = Retention(GOVERNANCE, until)
            for obj, info in states:
                if info.until != until:
                    self._client.set_object_retention(self._bucket, key, config, version_id=_version_id(obj))

    def set_legal_hold(self, key: str, on: bool) -> None:
        """Turn S3 legal hold on/off for every stored version; see :meth:`BlobStore.set_legal_hold`."""
        validate_key(key)
        self._ensure_bucket()
        with self._errors(key, locking=True):
            versions = [v for v in self._versions(key) if not v.is_delete_marker]
            if not versions:
                raise BlobNotFound(key)
            for obj in versions:
                if on:
                    self._client.enable_object_legal_hold(self._bucket, key, version_id=_version_id(obj))
                else:
                    self._client.disable_object_legal_hold(self._bucket, key, version_id=_version_id(obj))

    def destroy(self, key: str, *, bypass_governance: bool) -> None:
        """Delete every version, delete marker and unfinished upload of ``key``; see :meth:`BlobStore.destroy`.

        Checks holds and retention first (nothing is removed if any version
        is held, or retained without ``bypass_governance``), deletes all
        versions in one DeleteObjects request with
        ``x-amz-bypass-governance-retention`` when bypassing, then lists the
        versions again and raises unless none is left.
        """
        validate_key(key)
        self._ensure_bucket()
        with self._errors(key):
            self._abort_uploads(key)
            versions = self._versions(key)
            if versions:
                info = _merge([i for _, i in self._lock_states(key, versions)])
                if info.legal_hold or (not bypass_governance and info.locked()):
                    raise ObjectLocked(key, _lock_reason(info), info)
                self._remove_versions(key, versions, bypass_governance=bypass_governance)
            left = self._versions(key)
        if left:
            raise StorageUnavailable(
                f"destroying {key!r} failed: {len(left)} version(s) still stored after the delete"
            )

    def abandoned_uploads(self, older_than: datetime) -> list[UnfinishedUpload]:
        """Multipart uploads initiated before ``older_than`` and never completed or aborted.

        A storage outage in the middle of an upload leaves one: the SDK's abort cannot reach the
        server either. The server's ``Initiated`` time decides; an upload without one is kept.
        """
        self._ensure_bucket()
        with self._errors():
            return [
                UnfinishedUpload(key=u.object_name, upload_id=u.upload_id, started=u.initiated_time)
                for u in self._uploads()
                if u.upload_id and u.initiated_time is not None and u.initiated_time < older_than
            ]

    def abort_upload(self, upload: UnfinishedUpload) -> None:
        """AbortMultipartUpload: the server drops its parts (already gone: nothing to do).

        The key is the server's, as listed: not validated, so a foreign upload in the bucket can be aborted too.
        """
        self._ensure_bucket()
        with self._errors(upload.key):
            self._abort(upload.key, upload.upload_id)

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Yield object names starting with ``prefix`` (recursive listing)."""
        # Validate before returning the generator so a bad prefix fails at the
        # call, not at the first next().
        validate_prefix(prefix)
        self._ensure_bucket()
        return self._iter_keys(prefix)

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        with self._errors(prefix):
            for obj in self._client.list_objects(self._bucket, prefix=prefix or None, recursive=True):
                if obj.object_name is not None:
                    yield obj.object_name
