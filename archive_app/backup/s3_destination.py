"""Backups in an S3 bucket (MinIO, AWS S3, ...): the destination ``s3://bucket/prefix``.

Its own module over the ``minio`` SDK rather than ``storage.MinioStore``: a backup needs what the
archive's write-once blob store deliberately lacks (listing sizes in one pass, overwriting and
conditional writes for the lock), and must stay out of the archive's own bucket.
The backup bucket is created on first use, without Object Lock: pruning deletes from it. Give it no
versioning (or a lifecycle rule expiring noncurrent versions), else pruned objects stay billed.
"""
from __future__ import annotations

import io
import json
import os
import socket
import tempfile
import threading
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

import urllib3
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import MinioException, S3Error

from archive_app.backup.destinations import LOCK, MANIFEST, POOL, Destination, busy, temporary_folder
from archive_app.errors import Conflict, StorageFailed
from archive_app.i18n import _

_NOT_FOUND = frozenset({"NoSuchKey", "NoSuchObject"})
# 412 when the condition fails; AWS answers 409 to a conditional write racing another on the same key.
_CONDITION_FAILED = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
#: How long a lock object holds the destination without being renewed (a killed run's lock lapses after it).
LEASE = timedelta(minutes=10)
#: How often a running backup renews its lease.
RENEW_EVERY = timedelta(minutes=2)


class _Body(io.RawIOBase):
    """A GET response as a stream; closing it hands the connection back to the pool."""

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        super().__init__()
        self._response = response

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self._response.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._response.close()
            self._response.release_conn()
        super().close()


class S3Destination(Destination):
    """Backups under ``prefix`` in ``bucket`` of an S3 server."""

    def __init__(self, bucket: str, prefix: str, *, endpoint: str, access_key: str, secret_key: str,
                 secure: bool, region: str) -> None:
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.label = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        # The SDK's default HTTP client (5 retries, long timeouts) suits a nightly batch better than
        # the archive store's fail-fast one: a backup should ride out a server's brief hiccup.
        self._client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region)
        self._region = region
        self._bucket_ready = False
        self._pool: dict[str, int] | None = None
        self._lease: _Lease | None = None

    # -- plumbing ----------------------------------------------------------------------------------

    def _key(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path

    @contextmanager
    def _errors(self, path: str = "") -> Iterator[None]:
        try:
            yield
        except S3Error as exc:
            if exc.code in _NOT_FOUND:
                raise FileNotFoundError(self.describe(path)) from exc
            raise StorageFailed(_("备份存储 %(describe)s 出错：%(code)s: %(message)s", describe=self.describe(path), code=exc.code, message=exc.message),
                                code="backup_dest_unavailable") from exc
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise StorageFailed(_("备份存储 %(describe)s 无法访问：%(exc)s", describe=self.describe(path), exc=exc), code="backup_dest_unavailable") from exc

    def _ready(self) -> Minio:
        if not self._bucket_ready:
            with self._errors():
                if not self._client.bucket_exists(self.bucket):
                    try:
                        self._client.make_bucket(self.bucket, location=self._region)
                    except S3Error as exc:
                        if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                            raise
            self._bucket_ready = True
        return self._client

    def _list(self, path: str, *, recursive: bool) -> Iterator:
        with self._errors(path):
            yield from self._ready().list_objects(self.bucket, prefix=self._key(path), recursive=recursive)

    def _remove(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
            with self._errors():
                errors = list(self._ready().remove_objects(self.bucket, [DeleteObject(k) for k in
                                                                         keys[start:start + 1000]]))
            if errors:
                raise StorageFailed(_("备份存储 %(label)s 删除失败：%(code)s: %(message)s", label=self.label, code=errors[0].code, message=errors[0].message),
                                    code="backup_dest_unavailable")

    # -- interface ---------------------------------------------------------------------------------

    def names(self) -> list[str]:
        start = len(self._key(""))
        folders = (obj.object_name[start:].rstrip("/") for obj in self._list("", recursive=False) if obj.is_dir)
        return sorted(n for n in folders if n and n != POOL)

    def exists(self, path: str) -> bool:
        try:
            with self._errors(path):
                self._ready().stat_object(self.bucket, self._key(path))
        except FileNotFoundError:
            return False
        return True

    def open(self, path: str) -> BinaryIO:
        with self._errors(path):
            response = self._ready().get_object(self.bucket, self._key(path))
        return io.BufferedReader(_Body(response), buffer_size=1024 * 1024)  # type: ignore[return-value]

    def write_file(self, path: str, local: Path) -> None:
        with self._errors(path):
            self._ready().fput_object(self.bucket, self._key(path), str(local))

    def write_bytes(self, path: str, data: bytes) -> None:
        # One PUT: S3 shows an object only once it is whole, so the manifest appears all at once.
        with self._errors(path):
            self._ready().put_object(self.bucket, self._key(path), io.BytesIO(data), len(data),
                                     content_type="application/json")

    def remove_backup(self, name: str) -> None:
        self._remove([self._key(f"{name}/{MANIFEST}")])
        self._remove([obj.object_name for obj in self._list(f"{name}/", recursive=True)])

    def pool(self) -> dict[str, int]:
        if self._pool is None:
            # One listing (1,000 keys a request) instead of a HEAD per object; kept for this run, which
            # holds the lock, so nothing else changes the pool meanwhile.
            found: dict[str, int] = {}
            for obj in self._list(f"{POOL}/", recursive=True):
                parts = obj.object_name.rsplit("/", 2)
                if len(parts) == 3 and len(parts[2]) == 64 and parts[2][:2] == parts[1]:
                    found[parts[2]] = int(obj.size or 0)
            self._pool = found
        return dict(self._pool)

    def pool_size(self, sha256: str) -> int | None:
        self.pool()
        return self._pool.get(sha256)  # type: ignore[union-attr]

    def pool_add(self, sha256: str, local: Path) -> bool:
        size = os.path.getsize(local)
        if self.pool_size(sha256) == size:
            return False
        self.write_file(self.pool_path(sha256), local)
        self._pool[sha256] = size  # type: ignore[index]
        return True

    def pool_remove(self, shas: Iterable[str]) -> None:
        shas = list(shas)
        self._remove([self._key(self.pool_path(sha)) for sha in shas])
        if self._pool is not None:
            for sha in shas:
                self._pool.pop(sha, None)

    def spool_dir(self) -> Path:
        return Path(tempfile.gettempdir())

    @contextmanager
    def staging(self, name: str) -> Iterator[Path]:
        with temporary_folder() as folder:
            yield folder

    @contextmanager
    def local_copy(self, path: str) -> Iterator[Path]:
        with temporary_folder() as folder:
            local = folder / path.rsplit("/", 1)[-1]
            with self._errors(path):
                self._ready().fget_object(self.bucket, self._key(path), str(local))
            yield local

    def describe(self, path: str) -> str:
        return f"s3://{self.bucket}/{self._key(path)}" if path else self.label

    # -- lock --------------------------------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the destination through a lock object ``<prefix>/.lock`` with an owner and a lease.

        S3 has no flock, and a lock object outlives a killed run, so it carries an expiry: a run renews it
        every two minutes; one whose lease has lapsed (ten minutes unrenewed: its run is dead) is taken
        over. Creating and taking over are conditional writes (``If-None-Match: *``, ``If-Match: <etag>``;
        AWS S3 and MinIO honour both since 2024), so two runs cannot both win. A server that ignores
        them lets the second writer win silently; the first then finds another owner in the lock before
        it writes its manifest or prunes (``check_lock``) and fails, rather than delete what the other
        run counts on. Expiry is judged by the clocks of the machines running backups: keep them in NTP.
        """
        lease = _Lease(self)
        lease.acquire()
        self._lease = lease
        try:
            yield
        finally:
            self._lease = None
            lease.release()

    def check_lock(self) -> None:
        if self._lease is not None:
            self._lease.check()

    def _read_lock(self) -> tuple[dict, str] | None:
        """The lock object's content and ETag; None if there is none."""
        try:
            with self._errors(LOCK):
                response = self._ready().get_object(self.bucket, self._key(LOCK))
                try:
                    body, etag = response.read(), (response.headers.get("ETag") or "").strip('"')
                finally:
                    response.close()
                    response.release_conn()
        except FileNotFoundError:
            return None
        try:
            return json.loads(body), etag  # body and ETag of one response: the same version
        except ValueError:
            return {}, etag  # unreadable: treated as lapsed

    def _write_lock(self, body: dict, condition: dict[str, str]) -> str | None:
        """Write the lock object if ``condition`` holds; its new ETag, or None if the condition failed."""
        data = json.dumps(body).encode()
        try:
            with self._errors(LOCK):
                # The public put_object files unknown headers under x-amz-meta-; a conditional header
                # must reach the server as is.
                result = self._ready()._put_object(self.bucket, self._key(LOCK), data,
                                                   headers={"Content-Type": "application/json", **condition})
        except StorageFailed as exc:
            if isinstance(exc.__cause__, S3Error) and exc.__cause__.code in _CONDITION_FAILED:
                return None
            raise
        return (result.etag or "").strip('"')

    def _remove_lock(self) -> None:
        with self._errors(LOCK):
            self._ready().remove_object(self.bucket, self._key(LOCK))


class _Lease:
    """One run's hold on an S3 destination: the lock object, renewed by a thread until released."""

    def __init__(self, dest: S3Destination) -> None:
        self.dest = dest
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.etag = ""
        self.lost = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _body(self) -> dict:
        now = datetime.now(UTC)
        return {"owner": self.owner, "renewed_at": now.isoformat(), "expires_at": (now + LEASE).isoformat()}

    def acquire(self) -> None:
        etag = self.dest._write_lock(self._body(), {"If-None-Match": "*"})
        if etag is None:
            held = self.dest._read_lock()
            if held is None:  # released between the two calls
                etag = self.dest._write_lock(self._body(), {"If-None-Match": "*"})
            else:
                body, current = held
                try:
                    lapsed = datetime.fromisoformat(body["expires_at"]) < datetime.now(UTC)
                except (KeyError, TypeError, ValueError):
                    lapsed = True
                if not lapsed:
                    raise busy(_("%(label)s（%(owner)s，租约至 %(expires_at)s）", label=self.dest.label, owner=body.get('owner', '?'), expires_at=body.get('expires_at')))
                etag = self.dest._write_lock(self._body(), {"If-Match": f'"{current}"'})
        if etag is None:
            raise busy(self.dest.label)
        self.etag = etag
        self._thread = threading.Thread(target=self._renew, name="backup-lease", daemon=True)
        self._thread.start()

    def _renew(self) -> None:
        while not self._stop.wait(RENEW_EVERY.total_seconds()):
            try:
                held = self.dest._read_lock()
                if held is None or held[0].get("owner") != self.owner:
                    self.lost = _("%(value)s 持有锁", value=held[0].get('owner') if held else _('无人'))
                    return
                etag = self.dest._write_lock(self._body(), {"If-Match": f'"{held[1]}"'})
                if etag is None:
                    self.lost = _("续租时锁已被他人改写")
                    return
                self.etag = etag
            except Exception:  # noqa: BLE001 - a missed renewal is tried again: the lease outlasts four of them
                continue

    def check(self) -> None:
        """Conflict ``backup_lock_lost`` if this run no longer owns the lock object."""
        held = self.dest._read_lock()
        if not self.lost and (held is None or held[0].get("owner") != self.owner):
            self.lost = _("%(value)s 持有锁", value=held[0].get('owner') if held else _('无人'))
        if self.lost:
            raise Conflict(_("备份目标 %(label)s 的锁已失去（%(lost)s）：本次运行停止，未删除任何内容", label=self.dest.label, lost=self.lost),
                           code="backup_lock_lost")

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        held = self.dest._read_lock()
        if held is not None and held[0].get("owner") == self.owner:
            self.dest._remove_lock()
