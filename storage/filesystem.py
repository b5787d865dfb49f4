"""Blob store on a local (or mounted) filesystem directory."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat as stat_mod
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Iterator

from .base import (
    CHUNK_SIZE,
    RESERVED_FIRST_SEGMENT,
    BlobExists,
    BlobNotFound,
    BlobStat,
    BlobStore,
    BlobTooLarge,
    HashingReader,
    InvalidKey,
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

__all__ = ["FilesystemStore", "META_DIR"]

#: Directory under the root holding one JSON lock-metadata file per locked
#: blob, at the blob's relative path.  ``~`` is not a key character, so the
#: name can never be a key (and :meth:`FilesystemStore.keys` skips it).
META_DIR = ".meta~"

# Lock file (inside META_DIR) serialising metadata changes with delete/destroy
# across threads and processes; ``#`` keeps it out of the key namespace too.
_LOCK_FILE = "#lock"


def _fsync_dir(path: Path) -> None:
    """Flush a directory entry change (create/rename/link) to disk."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FilesystemStore(BlobStore):
    """Blobs as files under ``root``; key ``a/b/c.pdf`` is ``root/a/b/c.pdf``.

    Uploads are staged in ``root/.tmp/`` (same filesystem, so the final step
    is atomic), fsynced, then hard-linked into place.  ``os.link`` fails if
    the destination exists, which makes write-once atomic even between
    concurrent writers; ``os.replace`` would silently overwrite.  The
    filesystem must therefore support hard links (any POSIX local FS does).

    ``content_type`` is accepted for interface compatibility and not stored.
    A file and a directory cannot share a name, so unlike S3 the keys ``a``
    and ``a/b`` cannot both exist; such a put raises :class:`StorageError`.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        try:
            os.makedirs(root, exist_ok=True)
            # Resolved once so containment checks compare canonical paths even
            # when root itself is reached through a symlink.
            self._root = Path(root).resolve(strict=True)
        except OSError as exc:
            raise StorageUnavailable(f"cannot create storage root {root!s}: {exc}") from exc
        self._tmp = self._root / RESERVED_FIRST_SEGMENT
        self._meta = self._root / META_DIR

    @property
    def root(self) -> Path:
        """The resolved root directory."""
        return self._root

    def __repr__(self) -> str:
        return f"FilesystemStore({str(self._root)!r})"

    # -- paths ---------------------------------------------------------------

    def _path(self, key: str) -> Path:
        """Map a key to its path, refusing anything that resolves outside root."""
        validate_key(key)
        path = self._root.joinpath(*key.split("/"))
        # The key grammar already forbids '..'; this catches symlinks planted
        # inside root (e.g. root/evil -> /etc) that would otherwise be followed.
        resolved = Path(os.path.realpath(path))
        if not resolved.is_relative_to(self._root) or resolved == self._root:
            raise InvalidKey(f"key {key!r} resolves outside the storage root")
        return path

    def _makedirs(self, directory: Path) -> None:
        """Create ``directory`` and missing parents, fsyncing each new entry."""
        missing = []
        d = directory
        while d != self._root and not d.is_dir():
            missing.append(d)
            d = d.parent
        for d in reversed(missing):
            try:
                d.mkdir()
            except FileExistsError:
                if not d.is_dir():
                    rel = d.relative_to(self._root).as_posix()
                    raise StorageError(f"key {rel!r} is stored as a blob, so it cannot also be a key prefix") from None
                continue  # a concurrent put created it
            _fsync_dir(d.parent)

    # -- interface -------------------------------------------------------------

    def put(
        self,
        key: str,
        stream: BinaryIO,
        *,
        max_size: int | None = None,
        content_type: str = "application/octet-stream",
    ) -> PutResult:
        """Stream ``stream`` into a new file for ``key``; see :meth:`BlobStore.put`."""
        path = self._path(key)
        # Cheap early refusal so a large upload is not streamed only to be
        # rejected at the end; the os.link below is the authoritative check.
        if os.path.lexists(path):
            raise BlobExists(f"key already exists: {key!r}")
        self._drop_stale_meta(key)
        reader = HashingReader(stream, max_size)
        tmp_name: str | None = None
        try:
            os.makedirs(self._tmp, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="put-", suffix=".part")
            with os.fdopen(fd, "wb") as out:
                while chunk := reader.read(CHUNK_SIZE):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            self._makedirs(path.parent)
            try:
                os.link(tmp_name, path)
            except FileExistsError:
                raise BlobExists(f"key already exists: {key!r}") from None
            except (NotADirectoryError, IsADirectoryError) as exc:
                raise StorageError(
                    f"key {key!r} collides with an existing key used as a directory "
                    f"(or the other way round): {exc}"
                ) from exc
            _fsync_dir(path.parent)
        except StorageError:
            raise
        except OSError as exc:
            if exc.errno == errno.EEXIST and os.path.lexists(path):
                raise BlobExists(f"key already exists: {key!r}") from exc
            raise StorageUnavailable(f"writing {key!r} failed: {exc}") from exc
        finally:
            # The temp file is never the stored blob (the blob is a hard link),
            # so it is removed on success and failure alike.
            if tmp_name is not None:
                try:
                    os.unlink(tmp_name)
                except FileNotFoundError:
                    pass
                except OSError:
                    pass  # never mask the real outcome; a stale .part is harmless
        return reader.result(key)

    def put_file(
        self,
        key: str,
        path: str | os.PathLike[str],
        *,
        max_size: int | None = None,
        content_type: str = "application/octet-stream",
        sha256: str | None = None,
    ) -> PutResult:
        """Adopt a complete local file by hard-linking it into place (no copy).

        An upload spooled to disk on the same filesystem is thus written once. The file is hashed
        and fsynced first; on another filesystem it is copied through :meth:`put`.
        """
        dest = self._path(key)
        if os.path.lexists(dest):
            raise BlobExists(f"key already exists: {key!r}")
        self._drop_stale_meta(key)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError as exc:
            raise StorageUnavailable(f"cannot read {path}: {exc}") from exc
        with os.fdopen(fd, "rb") as fh:
            try:
                size = os.fstat(fh.fileno()).st_size
                if max_size is not None and size > max_size:
                    raise BlobTooLarge(max_size)
                if sha256 is None:
                    reader = HashingReader(fh, max_size)
                    while reader.read(CHUNK_SIZE):
                        pass
                    sha256 = reader.sha256
                os.fsync(fh.fileno())
                self._makedirs(dest.parent)
                os.link(path, dest)
            except FileExistsError:
                raise BlobExists(f"key already exists: {key!r}") from None
            except OSError as exc:
                if exc.errno == errno.EXDEV:
                    fh.seek(0)
                    return self.put(key, fh, max_size=max_size, content_type=content_type)
                raise StorageUnavailable(f"writing {key!r} failed: {exc}") from exc
        try:
            _fsync_dir(dest.parent)
        except OSError as exc:
            self.delete(key)
            raise StorageUnavailable(f"writing {key!r} failed: {exc}") from exc
        return PutResult(key=key, sha256=sha256, size=size)

    def open(self, key: str) -> BinaryIO:
        """Open the blob's file for binary reading."""
        path = self._path(key)
        try:
            # O_NOFOLLOW: the final component must be the regular file we
            # wrote, never a symlink swapped in after the containment check.
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise BlobNotFound(key) from exc
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise BlobNotFound(key) from exc
            raise StorageUnavailable(f"opening {key!r} failed: {exc}") from exc
        try:
            if not stat_mod.S_ISREG(os.fstat(fd).st_mode):
                raise BlobNotFound(key)
            return os.fdopen(fd, "rb", buffering=CHUNK_SIZE)
        except BaseException:
            os.close(fd)
            raise

    def stat(self, key: str) -> BlobStat:
        """Size of the blob's file; raises BlobNotFound if missing."""
        path = self._path(key)
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise BlobNotFound(key) from exc
        except OSError as exc:
            raise StorageUnavailable(f"stat of {key!r} failed: {exc}") from exc
        if not stat_mod.S_ISREG(st.st_mode):
            raise BlobNotFound(key)
        return BlobStat(key=key, size=st.st_size,
                        modified=datetime.fromtimestamp(st.st_mtime, tz=timezone.utc))

    def exists(self, key: str) -> bool:
        """True if a regular file is stored for ``key``."""
        try:
            self.stat(key)
        except BlobNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        """Unlink the blob's file and its lock metadata; a missing key (or a directory) is a no-op.

        Raises :class:`ObjectLocked` (and removes nothing) while the blob has a
        legal hold or a retention date in the future.  Empty parent
        directories are left in place: removing them would race with a
        concurrent put creating a sibling key.
        """
        path = self._path(key)
        with self._locked():
            info = self._read_meta(key)
            if self.exists(key):
                if info.locked():
                    raise ObjectLocked(key, _lock_reason(info), info)
                self._unlink_blob(key, path)
            self._remove_meta(key)

    def _unlink_blob(self, key: str, path: Path) -> None:
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError):
            return
        except IsADirectoryError:
            return  # "a" when only "a/b" exists: there is no blob "a"
        except OSError as exc:
            if exc.errno in (errno.EISDIR, errno.EPERM) and path.is_dir():
                return  # Linux reports unlink(dir) as EISDIR, macOS as EPERM
            raise StorageUnavailable(f"deleting {key!r} failed: {exc}") from exc
        try:
            _fsync_dir(path.parent)
        except OSError as exc:
            raise StorageUnavailable(f"deleting {key!r} failed: {exc}") from exc

    # -- retention and legal hold ----------------------------------------------
    #
    # The same rules as S3 Object Lock in governance mode, enforced here: the
    # lock state of blob ``a/b.pdf`` is the JSON file ``.meta~/a/b.pdf``
    # (absent = not locked), written to .tmp, fsynced and renamed into place.
    # Every read-check-write (set_*, delete, destroy) runs under an exclusive
    # flock on ``.meta~/#lock``, so a hold placed by one process cannot slip
    # past a delete running in another.

    def lock_supported(self) -> bool:
        """Always True: this store enforces retention and legal holds itself."""
        return True

    def retention(self, key: str) -> RetentionInfo:
        """The blob's retention date and legal hold; raises BlobNotFound if missing."""
        self._path(key)
        if not self.exists(key):
            raise BlobNotFound(key)
        return self._read_meta(key)

    def set_retention(self, key: str, until: datetime) -> None:
        """Extend the blob's retention to ``until``; see :meth:`BlobStore.set_retention`."""
        self._path(key)
        until = normalize_retain_until(until)
        with self._locked():
            if not self.exists(key):
                raise BlobNotFound(key)
            info = self._read_meta(key)
            if info.until is not None and until < info.until:
                raise RetentionViolation(key, info.until, until)
            if info.until == until or until <= datetime.now(timezone.utc):
                return
            self._write_meta(key, RetentionInfo(until=until, legal_hold=info.legal_hold))

    def set_legal_hold(self, key: str, on: bool) -> None:
        """Place or lift the blob's legal hold; see :meth:`BlobStore.set_legal_hold`."""
        self._path(key)
        with self._locked():
            if not self.exists(key):
                raise BlobNotFound(key)
            info = self._read_meta(key)
            if info.legal_hold == bool(on):
                return
            new = RetentionInfo(until=info.until, legal_hold=bool(on))
            if new == RetentionInfo():
                self._remove_meta(key)
            else:
                self._write_meta(key, new)

    def destroy(self, key: str, *, bypass_governance: bool) -> None:
        """Remove the blob's bytes and its lock metadata for good; see :meth:`BlobStore.destroy`.

        If other hard links share the blob's inode (the spooled upload adopted
        by :meth:`put_file`, or a staging file left in ``.tmp`` by a crash),
        the file is truncated to zero bytes first, so no other name keeps the
        content.  Blob first, metadata second: a crash in between leaves only
        the metadata file, which a repeated destroy (or a new put) removes.
        """
        path = self._path(key)
        with self._locked():
            info = self._read_meta(key)
            if self.exists(key):
                if info.legal_hold or (not bypass_governance and info.locked()):
                    raise ObjectLocked(key, _lock_reason(info), info)
                self._truncate_shared(key, path)
                self._unlink_blob(key, path)
            self._remove_meta(key)
        meta = self._meta_path(key)
        if any(os.path.lexists(p) and not os.path.isdir(p) for p in (path, meta)):
            raise StorageUnavailable(f"destroying {key!r} failed: something is still stored")

    def _truncate_shared(self, key: str, path: Path) -> None:
        try:
            st = os.lstat(path)
            if st.st_nlink <= 1 or st.st_size == 0:
                return
            if not st.st_mode & stat_mod.S_IWUSR:
                os.chmod(path, stat_mod.S_IMODE(st.st_mode) | stat_mod.S_IWUSR)
            fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
            try:
                os.ftruncate(fd, 0)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StorageUnavailable(f"destroying {key!r} failed: {exc}") from exc

    # -- lock metadata -----------------------------------------------------------

    def _meta_path(self, key: str) -> Path:
        validate_key(key)
        path = self._meta.joinpath(*key.split("/"))
        resolved = Path(os.path.realpath(path))
        if not resolved.is_relative_to(self._meta) or resolved == self._meta:
            raise InvalidKey(f"lock metadata of {key!r} resolves outside the metadata directory")
        return path

    @contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self._makedirs(self._meta)
            fd = os.open(
                self._meta / _LOCK_FILE,
                os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0),
                0o600,
            )
        except StorageError as exc:
            raise StorageUnavailable(f"cannot use the lock metadata directory {self._meta}: {exc}") from exc
        except OSError as exc:
            raise StorageUnavailable(f"cannot open the lock file in {self._meta}: {exc}") from exc
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as exc:
                raise StorageUnavailable(f"cannot lock {self._meta / _LOCK_FILE}: {exc}") from exc
            yield
        finally:
            os.close(fd)  # releases the flock

    def _read_meta(self, key: str) -> RetentionInfo:
        path = self._meta_path(key)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except (FileNotFoundError, NotADirectoryError):
            return RetentionInfo()
        except OSError as exc:
            raise StorageUnavailable(f"reading lock metadata of {key!r} failed: {exc}") from exc
        try:
            with os.fdopen(fd, "rb") as fh:
                doc = json.loads(fh.read())
            until = doc["retain_until"]
            hold = doc["legal_hold"]
            if not isinstance(hold, bool) or not (until is None or isinstance(until, str)):
                raise ValueError("bad field types")
            return RetentionInfo(
                until=None if until is None else datetime.fromisoformat(until).astimezone(timezone.utc),
                legal_hold=hold,
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # Fail closed: unreadable lock state must stop delete/destroy, not wave them through.
            raise StorageUnavailable(f"lock metadata of {key!r} is unreadable: {exc}") from exc

    def _write_meta(self, key: str, info: RetentionInfo) -> None:
        path = self._meta_path(key)
        data = json.dumps(
            {
                "key": key,
                "retain_until": None if info.until is None else info.until.isoformat(),
                "legal_hold": info.legal_hold,
            },
            sort_keys=True,
        ).encode()
        tmp_name: str | None = None
        try:
            self._clear_stale_meta_parents(path)
            self._makedirs(path.parent)
            os.makedirs(self._tmp, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="meta-", suffix=".part")
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp_name, path)
            tmp_name = None
            _fsync_dir(path.parent)
        except StorageError as exc:
            raise StorageUnavailable(f"writing lock metadata of {key!r} failed: {exc}") from exc
        except OSError as exc:
            raise StorageUnavailable(f"writing lock metadata of {key!r} failed: {exc}") from exc
        finally:
            if tmp_name is not None:
                try:
                    os.unlink(tmp_name)
                except OSError:
                    pass

    def _clear_stale_meta_parents(self, path: Path) -> None:
        # The metadata tree mirrors blob paths, and blobs "a" and "a/b" cannot
        # coexist; so a *file* at a parent of this key's metadata path belongs
        # to a blob that no longer exists (a crash between unlinking a blob
        # and its metadata).  Remove it so this key's metadata can be written.
        d = path.parent
        while d != self._meta:
            if os.path.isfile(d) and not os.path.islink(d):
                os.unlink(d)
                _fsync_dir(d.parent)
                break
            d = d.parent

    def _remove_meta(self, key: str) -> None:
        path = self._meta_path(key)
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return
        except OSError as exc:
            if exc.errno in (errno.EISDIR, errno.EPERM) and path.is_dir():
                return
            raise StorageUnavailable(f"removing lock metadata of {key!r} failed: {exc}") from exc
        try:
            _fsync_dir(path.parent)
        except OSError as exc:
            raise StorageUnavailable(f"removing lock metadata of {key!r} failed: {exc}") from exc

    def _drop_stale_meta(self, key: str) -> None:
        """Before a put: remove lock metadata left behind for a blob that no longer exists."""
        if not os.path.lexists(self._meta_path(key)):
            return
        with self._locked():
            if not os.path.lexists(self._path(key)):
                self._remove_meta(key)

    def abandoned_uploads(self, older_than: datetime) -> list[UnfinishedUpload]:
        """Staging files in ``.tmp`` last written before ``older_than``: a put or a lock change killed midway.

        A put in progress keeps writing its staging file, so its modification time stays recent.
        """
        try:
            entries = list(os.scandir(self._tmp))
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise StorageUnavailable(f"listing {self._tmp} failed: {exc}") from exc
        found = []
        for entry in entries:
            if not entry.is_file(follow_symlinks=False):
                continue
            try:
                written = datetime.fromtimestamp(entry.stat(follow_symlinks=False).st_mtime, timezone.utc)
            except FileNotFoundError:
                continue  # finished meanwhile
            if written < older_than:
                found.append(UnfinishedUpload(key="", upload_id=entry.name, started=written))
        return sorted(found, key=lambda u: u.upload_id)

    def abort_upload(self, upload: UnfinishedUpload) -> None:
        """Remove the staging file. Never the blob: a staging file linked into place is only another name."""
        name = upload.upload_id
        if not name or "/" in name or name in (".", ".."):
            raise InvalidKey(f"not a staging file name: {name!r}")
        try:
            os.unlink(self._tmp / name)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StorageUnavailable(f"removing staging file {name!r} failed: {exc}") from exc

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Yield stored keys starting with ``prefix``, in sorted order.

        Symlinks are skipped: the store never creates them, so any found are
        foreign and could point outside the root.
        """
        # Validate before returning the generator so a bad prefix fails at the
        # call, not at the first next().
        validate_prefix(prefix)
        # Walk only the deepest directory the prefix pins down.
        base_dir = prefix.rpartition("/")[0]
        if base_dir:
            try:
                start = self._path(base_dir)
            except InvalidKey:
                return iter(())  # e.g. "a//" or a symlinked dir: no stored key can match
        else:
            start = self._root
        return self._walk(start, prefix)

    def _walk(self, directory: Path, prefix: str) -> Iterator[str]:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            raise StorageUnavailable(f"listing {directory} failed: {exc}") from exc
        for entry in entries:
            if directory == self._root and entry.name in (RESERVED_FIRST_SEGMENT, META_DIR):
                continue
            if entry.is_symlink():
                continue
            rel = Path(entry.path).relative_to(self._root).as_posix()
            if entry.is_dir(follow_symlinks=False):
                # Prune subtrees that cannot contain a match.
                if (rel + "/").startswith(prefix) or prefix.startswith(rel + "/"):
                    yield from self._walk(Path(entry.path), prefix)
            elif entry.is_file(follow_symlinks=False) and rel.startswith(prefix):
                yield rel


def _lock_reason(info: RetentionInfo) -> str:
    if info.legal_hold:
        return "under legal hold"
    return f"retained until {info.until.isoformat() if info.until else '?'}"
