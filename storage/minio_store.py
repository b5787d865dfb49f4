"""Blob store on an S3-compatible object store (MinIO, AWS S3, ...).

This is the only module that imports the ``minio`` SDK.
"""

from __future__ import annotations

import io
import os
import threading
from contextlib import contextmanager
from typing import BinaryIO, Iterator

import certifi
import urllib3
from minio import Minio
from minio.error import MinioException, S3Error
from minio.helpers import check_bucket_name
from urllib3.util import Retry, Timeout

from .base import (
    CHUNK_SIZE,
    BlobExists,
    BlobNotFound,
    BlobStat,
    BlobStore,
    HashingReader,
    PutResult,
    StorageError,
    StorageUnavailable,
    validate_key,
    validate_prefix,
)

__all__ = ["MinioStore", "PART_SIZE"]

#: Multipart part size.  Also the upper bound of what one upload holds in
#: memory at a time (the SDK buffers one part before sending it).
PART_SIZE = 16 * 1024 * 1024

_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchObject", "NoSuchVersion"})
_BUCKET_EXISTS_CODES = frozenset({"BucketAlreadyOwnedByYou", "BucketAlreadyExists"})


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
    def _errors(self, key: str | None = None) -> Iterator[None]:
        """Translate SDK / transport exceptions into the storage error types."""
        try:
            yield
        except StorageError:
            raise
        except S3Error as exc:
            if exc.code in _NOT_FOUND_CODES:
                raise BlobNotFound(key or "") from exc
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

    def _remove_all_versions(self, key: str) -> None:
        # A versioned bucket (always the case with Object Lock) keeps old
        # versions and turns a plain DELETE into a delete marker; removing
        # every version id really deletes the blob.  On an unversioned bucket
        # the single listed version ("null") is the object itself.
        versions = [
            obj
            for obj in self._client.list_objects(self._bucket, prefix=key, include_version=True)
            if obj.object_name == key
        ]
        for obj in versions:
            self._client.remove_object(self._bucket, key, version_id=obj.version_id)

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
        """Remove the object and, in a versioned bucket, all its versions."""
        validate_key(key)
        self._ensure_bucket()
        with self._errors(key):
            self._remove_all_versions(key)

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
