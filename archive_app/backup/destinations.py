"""Where backups are written: a folder, or a prefix of an S3 bucket (``s3_destination.py``).

Both hold the same layout, addressed by ``/``-separated paths relative to the destination::

    objects/<sha256[:2]>/<sha256>        the pool of stored objects, shared by every backup
    <YYYYmmddTHHMMSSZ>/database.*         the database copy of one backup
    <YYYYmmddTHHMMSSZ>/manifest.json      written last: a backup without it is unfinished

``backups.py`` speaks only to this interface, so backup, verify, restore, prune and listing are one
code path over both.
"""
from __future__ import annotations

import abc
import fcntl
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator, Mapping

from archive_app.errors import Conflict, ValidationFailed
from archive_app.i18n import _

POOL = "objects"
MANIFEST = "manifest.json"
LOCK = ".lock"
S3_SCHEME = "s3://"


class Destination(abc.ABC):
    """A place backups are written to and read from; paths are relative, ``/``-separated."""

    #: How the destination is named in messages and the audit log (a folder path, ``s3://bucket/prefix``).
    label: str

    def __str__(self) -> str:
        return self.label

    @abc.abstractmethod
    def names(self) -> list[str]:
        """Every backup in the destination, finished or not (the pool excluded), sorted."""

    @abc.abstractmethod
    def exists(self, path: str) -> bool:
        """True if a file is stored at ``path``."""

    @abc.abstractmethod
    def open(self, path: str) -> BinaryIO:
        """Read the file at ``path`` (FileNotFoundError if there is none); close it when done."""

    @abc.abstractmethod
    def write_file(self, path: str, local: Path) -> None:
        """Store the local file ``local`` at ``path``."""

    @abc.abstractmethod
    def write_bytes(self, path: str, data: bytes) -> None:
        """Store ``data`` at ``path`` at once: a reader sees the whole file or none (the manifest)."""

    @abc.abstractmethod
    def remove_backup(self, name: str) -> None:
        """Remove one backup's files, its manifest first (stopped halfway, it is merely unfinished)."""

    @abc.abstractmethod
    def pool(self) -> dict[str, int]:
        """sha256 -> size of every object in the pool."""

    @abc.abstractmethod
    def pool_size(self, sha256: str) -> int | None:
        """Size of one pool object, None if it is not in the pool."""

    @abc.abstractmethod
    def pool_add(self, sha256: str, local: Path) -> bool:
        """Put the local file (whose SHA-256 is ``sha256``) into the pool; False if it was there already.
        ``local`` may be moved away."""

    @abc.abstractmethod
    def pool_remove(self, shas: Iterable[str]) -> None:
        """Remove these objects from the pool."""

    @abc.abstractmethod
    def spool_dir(self) -> Path:
        """A local folder for the temporary copy of an object on its way into the pool."""

    @abc.abstractmethod
    @contextmanager
    def staging(self, name: str) -> Iterator[Path]:
        """A local folder a new backup's database copy is written into before ``write_file``."""

    @abc.abstractmethod
    @contextmanager
    def local_copy(self, path: str) -> Iterator[Path]:
        """The file at ``path`` as a local file (pg_restore and SQLite read files, not streams)."""

    @abc.abstractmethod
    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the destination for one run; Conflict ``backup_running`` if another run holds it."""

    def check_lock(self) -> None:
        """Raise Conflict if a lock this object took has been lost meanwhile (nothing to lose by default)."""

    @abc.abstractmethod
    def describe(self, path: str) -> str:
        """Where ``path`` is, for a message."""

    def pool_path(self, sha256: str) -> str:
        """The relative path of a pool object."""
        return f"{POOL}/{sha256[:2]}/{sha256}"


def busy(label: str) -> Conflict:
    """The refusal of a second run on a destination another run holds."""
    return Conflict(_("另一个备份或恢复正在使用 %(label)s，请稍后再试", label=label), code="backup_running")


class FolderDestination(Destination):
    """Backups in a local (or mounted) folder."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.label = str(self.root)

    def _path(self, path: str) -> Path:
        return self.root / path

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and p.name != POOL)

    def exists(self, path: str) -> bool:
        return self._path(path).is_file()

    def open(self, path: str) -> BinaryIO:
        return open(self._path(path), "rb")

    def write_file(self, path: str, local: Path) -> None:
        target = self._path(path)
        if target.resolve() == Path(local).resolve():
            return  # written in place: the staging folder is the backup folder
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(local, target)

    def write_bytes(self, path: str, data: bytes) -> None:
        target = self._path(path)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)

    def remove_backup(self, name: str) -> None:
        self._path(f"{name}/{MANIFEST}").unlink(missing_ok=True)
        shutil.rmtree(self._path(name), ignore_errors=True)

    def pool(self) -> dict[str, int]:
        return {p.name: p.stat().st_size for p in (self.root / POOL).glob("??/*") if p.is_file()}

    def pool_size(self, sha256: str) -> int | None:
        path = self._path(self.pool_path(sha256))
        return path.stat().st_size if path.is_file() else None

    def pool_add(self, sha256: str, local: Path) -> bool:
        final = self._path(self.pool_path(sha256))
        if final.exists():
            return False
        with open(local, "rb") as fh:
            os.fsync(fh.fileno())  # on disk before its name is: a crash leaves no short file in the pool
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(local, final)
        return True

    def pool_remove(self, shas: Iterable[str]) -> None:
        for sha in shas:
            self._path(self.pool_path(sha)).unlink(missing_ok=True)

    def spool_dir(self) -> Path:
        # Inside the destination, so the finished copy is renamed into the pool, not copied again.
        tmp = self.root / POOL / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return tmp

    @contextmanager
    def staging(self, name: str) -> Iterator[Path]:
        folder = self._path(name)
        folder.mkdir(parents=True)
        yield folder

    @contextmanager
    def local_copy(self, path: str) -> Iterator[Path]:
        yield self._path(path)

    @contextmanager
    def lock(self) -> Iterator[None]:
        # flock: released by the kernel when the process dies, so a killed run never leaves the folder held.
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK, "a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise busy(self.label) from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def describe(self, path: str) -> str:
        return str(self._path(path))


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) of ``s3://bucket[/prefix]``; ValidationFailed if it is not one."""
    rest = url[len(S3_SCHEME):] if url.startswith(S3_SCHEME) else ""
    bucket, _unused, prefix = rest.partition("/")
    if not bucket:
        raise ValidationFailed(_("不是 S3 备份地址（应为 s3://存储桶/前缀）：%(url)s", url=url), code="backup_dest_invalid")
    return bucket, prefix.strip("/")


def open_destination(dest: str | os.PathLike[str] | Destination, config: Mapping[str, Any] | None = None,
                     ) -> Destination:
    """The destination ``dest`` names: a Destination as is, ``s3://bucket/prefix`` (server and keys from
    ``config``: the ``BACKUP_S3_*`` settings, each falling back to the archive's own ``S3_*``), else a folder.
    ValidationFailed ``backup_dest_invalid`` for a malformed S3 address or the archive's own bucket."""
    if isinstance(dest, Destination):
        return dest
    text = os.fspath(dest)
    if not text.startswith(S3_SCHEME):
        return FolderDestination(text)
    if config is None:
        raise ValidationFailed(_("%(text)s：S3 备份地址需要服务器与密钥设置（ARCHIVE_BACKUP_S3_*）", text=text),
                               code="backup_dest_invalid")
    from archive_app.backup.s3_destination import S3Destination

    def pick(name: str) -> Any:
        own = config.get(f"BACKUP_S3_{name}")
        return config.get(f"S3_{name}") if own is None or own == "" else own

    bucket, prefix = parse_s3_url(text)
    endpoint = str(pick("ENDPOINT") or "")
    if config.get("STORAGE_BACKEND") == "s3" and bucket == config.get("S3_BUCKET") \
            and endpoint == config.get("S3_ENDPOINT"):
        # A restore needs an empty store, and the archive's own sweeps would see the backup as orphans.
        raise ValidationFailed(_("备份不能写入档案自身的存储桶 %(bucket)s：请用另一个存储桶", bucket=bucket), code="backup_dest_invalid")
    return S3Destination(bucket, prefix, endpoint=endpoint, access_key=str(pick("ACCESS_KEY") or ""),
                         secret_key=str(pick("SECRET_KEY") or ""), secure=bool(pick("SECURE")),
                         region=str(pick("REGION") or "us-east-1"))


@contextmanager
def temporary_folder() -> Iterator[Path]:
    """A local temporary folder, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="archive-backup-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
