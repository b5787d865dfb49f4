"""The watched intake folder (ARCHIVE_INTAKE_FOLDER): files dropped there are filed by their names.

A scanner or a colleague saves ``C000123_购房合同_20240315.pdf`` into the folder; the worker polls it
every minute (``jobs.poll_intake_folder``) and ``archive intake-folder --once`` on demand. Each file
that has stopped growing is filed as a draft record (naming rule: ``naming_rule.parse_name``) by
ARCHIVE_INTAKE_FOLDER_USER, or by the system account ``intake-folder`` when none is named, and then:

* filed: moved to ``done/`` — kept, not removed, so the folder's owner can see what went in and
  empty ``done/`` when they choose. The record (blob and row) is committed before the file moves, so
  a crash in between leaves the file in place; the next poll finds it already filed (same content in
  that customer's file) and moves it to ``rejected/`` saying so, never filing it twice;
* not fileable (unknown customer or type, bad date, empty or broken file, refused by the intake
  checks, already in the archive): moved to ``rejected/`` next to ``<name>.reason.txt`` giving the
  reason in Chinese and its stable code;
* storage or database unavailable: left where it is for the next poll.

A file is left alone while it may still be written: a temporary name (``*.part``, ``.~*``, ``~$*``,
any dot-file), or a size or modification time that changed since the previous look. The worker
compares with its previous poll (kept in the folder, ``.archive-intake-state.json``); ``--once``
looks twice a moment apart. One run at a time per folder (a lock file, ``.archive-intake.lock``).
Every file filed or moved aside is in the audit log (``intake_folder.file`` / ``intake_folder.reject``).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from archive_app import policy
from archive_app.accounts import users as accounts
from archive_app.accounts.models import User
from archive_app.audit import log as audit
from archive_app.errors import DomainError, StorageFailed, ValidationFailed
from archive_app.i18n import _
from archive_app.intake import bulk_intake
from archive_app.intake.naming_rule import parse_name
from archive_app.intake.records import ArchiveSettings, IncomingFile
from storage import BlobStore

log = logging.getLogger(__name__)

DONE = "done"
REJECTED = "rejected"
STATE_FILE = ".archive-intake-state.json"
LOCK_FILE = ".archive-intake.lock"
REASON_SUFFIX = ".reason.txt"
# Names writers give files they have not finished: browsers, office suites, rsync, scanners' own.
TEMP_SUFFIXES = (".part", ".partial", ".crdownload", ".download", ".tmp", ".temp", ".filepart")
TEMP_PREFIXES = (".", "~")
# The account that files when ARCHIVE_INTAKE_FOLDER_USER names nobody: an archivist nobody can sign in as.
SYSTEM_USERNAME = "intake-folder"
SYSTEM_DISPLAY_NAME = "监视文件夹（系统）"
_NO_LOGIN_HASH = "!no-login"  # not an argon2 hash: check_password answers False for every password

Look = dict[str, tuple[int, int]]  # file name -> (size, mtime in ns)


@dataclass(frozen=True)
class FolderSettings:
    """Where the folder is and who files its files (empty: the system account)."""

    path: str
    username: str = ""


@dataclass
class Outcome:
    """What became of one file: ``filed``, ``rejected``, or ``held`` (left for the next poll)."""

    name: str
    status: str
    archival_code: str = ""
    code: str = ""
    message: str = ""
    moved_to: str = ""


@dataclass
class FolderRun:
    """One pass over the folder: each file handled, the names still being written, or ``busy``
    when another run held the folder."""

    outcomes: list[Outcome] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    busy: bool = False

    def of(self, status: str) -> list[Outcome]:
        """The outcomes with this status."""
        return [o for o in self.outcomes if o.status == status]


def is_temporary(name: str) -> bool:
    """Whether ``name`` is a file still being written (or one of the folder's own dot-files)."""
    lowered = name.lower()
    return lowered.startswith(TEMP_PREFIXES) or lowered.endswith(TEMP_SUFFIXES) or lowered.endswith(REASON_SUFFIX)


def look(folder: Path) -> Look:
    """The size and modification time of every candidate file directly in ``folder`` (no sub-folders)."""
    found: Look = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            if is_temporary(entry.name) or not entry.is_file(follow_symlinks=False):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # gone between the listing and the stat
            found[entry.name] = (st.st_size, st.st_mtime_ns)
    return found


def settled(previous: Mapping[str, tuple[int, int]], current: Look) -> list[str]:
    """The names whose size and modification time are the same in both looks, in name order."""
    return sorted(name for name, stat in current.items() if tuple(previous.get(name, ())) == stat)


def intake_actor(session: Session, username: str) -> User:
    """The user the folder files as: ``username`` (an active user allowed to upload), or the system
    account, made on first use (audited as ``user.create``; it has no password anyone can use)."""
    if username:
        user = session.scalar(select(User).where(User.username == username))
        if user is None or not policy.can(user, "record.upload"):
            raise ValidationFailed(_("ARCHIVE_INTAKE_FOLDER_USER 指定的用户 %(username)s 不存在、已停用或无权上传档案", username=username),
                                   code="intake_user_invalid")
        return user
    user = session.scalar(select(User).where(User.username == SYSTEM_USERNAME))
    if user is None:
        user = accounts.create_user(session, username=SYSTEM_USERNAME, password="", role="archivist",
                                    display_name=SYSTEM_DISPLAY_NAME, password_hash=_NO_LOGIN_HASH)
        session.commit()
    elif not policy.can(user, "record.upload"):
        # An administrator stopped the account: that stops the folder too, until they say otherwise.
        raise ValidationFailed(_("系统账号 %(system_username)s 已停用或无权上传档案，监视文件夹暂停归档", system_username=SYSTEM_USERNAME),
                               code="intake_user_invalid")
    return user


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[bool]:
    # flock is released by the kernel when the process dies: a killed run never blocks the folder.
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _read_state(folder: Path) -> dict[str, tuple[int, int]]:
    try:
        data = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        return {str(k): (int(v[0]), int(v[1])) for k, v in data.items()}
    except (OSError, ValueError, TypeError, IndexError, AttributeError):
        return {}  # no previous poll (or an unreadable note of it): every file waits one more poll


def _write_state(folder: Path, current: Look) -> None:
    tmp = folder / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps({k: list(v) for k, v in current.items()}, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, folder / STATE_FILE)


def _free_name(directory: Path, name: str) -> str:
    """``name``, or ``name (2)``… when ``directory`` already holds a file (or a reason) of that name."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    candidate, n = name, 1
    while (directory / candidate).exists() or (directory / (candidate + REASON_SUFFIX)).exists():
        n += 1
        candidate = f"{stem} ({n}){dot}{ext}"
    return candidate


def _move(source: Path, directory: Path) -> Path:
    target = directory / _free_name(directory, source.name)
    os.rename(source, target)  # a sub-folder of the same folder: one filesystem, an atomic rename
    return target


def _shown(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 (kept by the OS as surrogates) become U+FFFD."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _reason_text(name: str, code: str, message: str, when: datetime, timezone: str) -> str:
    local = when.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M:%S")
    return (_("未能归档：%(message)s\n代码：%(code)s\n文件：%(shown)s\n时间：%(local)s\n命名规则：客户号_类型_日期.扩展名，例如 C000123_购房合同_20240315.pdf；改正后请放回监视文件夹。\n", message=message, code=code, shown=_shown(name), local=local))


def _move_aside(folder: Path, name: str, code: str, message: str, when: datetime, timezone: str) -> Path:
    """Move a file to rejected/ and write its reason beside it (reason first: a file in rejected/
    always says why)."""
    rejected = folder / REJECTED
    target_name = _free_name(rejected, name)
    reason = rejected / (target_name + REASON_SUFFIX)
    reason.write_text(_reason_text(name, code, message, when, timezone), encoding="utf-8")
    try:
        os.rename(folder / name, rejected / target_name)
    except OSError:
        reason.unlink(missing_ok=True)
        raise
    return rejected / target_name


def _commit_audit(session: Session, action: str, actor: User, **entry) -> None:
    try:
        audit.record_event(session, action, actor=actor, **entry)
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        log.exception("intake folder: could not write %s to the audit log", action)


def file_one(session: Session, store: BlobStore, settings: ArchiveSettings, actor: User, folder: Path, name: str,
             *, now: Callable[[], datetime]) -> Outcome:
    """File one settled file of the folder and move it to done/, or move it aside to rejected/ saying why."""
    path = folder / name
    try:
        if _shown(name) != name:
            # Not text any database keeps; the name must be fixed before the file can be filed.
            raise ValidationFailed(_("文件名不是有效的 UTF-8 编码，请重新命名"), code="bad_file_name")
        named = parse_name(name)
        with open(path, "rb") as stream:
            record = bulk_intake.file_one(
                session, store, settings, actor, named.customer_no,
                {"record_type": named.record_type, "doc_date": named.doc_date, "title": named.title or ""},
                IncomingFile(filename=name, stream=stream), now=now())
    except StorageFailed as exc:
        session.rollback()
        log.warning("intake folder: %s left for the next poll: %s", name, exc.message)
        return Outcome(name, "held", code=exc.code, message=exc.message)
    except DomainError as exc:
        session.rollback()
        return _reject(session, actor, folder, name, exc.code, exc.message, now(), settings.timezone)
    except FileNotFoundError:
        session.rollback()
        return Outcome(name, "held", code="file_gone", message=_("文件已被移走"))
    archival_code, record_id = record.archival_code, record.id
    try:
        moved = str(_move(path, folder / DONE))
    except OSError as exc:
        # Filed and committed; the file stays. The next poll finds its content already in the file
        # (duplicate) and moves it aside saying so: never filed twice, never lost.
        log.error("intake folder: %s filed as %s but could not be moved to done/: %s", name, archival_code, exc)
        moved = ""
    _commit_audit(session, "intake_folder.file", actor, object_type="record", object_id=record_id,
                  details={"file": name, "archival_code": archival_code, "moved_to": moved, "folder": str(folder)})
    return Outcome(name, "filed", archival_code=archival_code, moved_to=moved)


def _reject(session: Session, actor: User, folder: Path, name: str, code: str, message: str, when: datetime,
            timezone: str) -> Outcome:
    try:
        moved = str(_move_aside(folder, name, code, message, when, timezone))
    except OSError as exc:
        log.error("intake folder: could not move %s aside (%s: %s): %s", name, code, message, exc)
        return Outcome(name, "held", code=code, message=message)
    _commit_audit(session, "intake_folder.reject", actor, object_type="intake_folder", object_id=_shown(name)[:64],
                  details={"file": _shown(name), "code": code, "message": message, "moved_to": _shown(moved),
                           "folder": _shown(str(folder))})
    return Outcome(_shown(name), "rejected", code=code, message=message, moved_to=_shown(moved))


def run(session: Session, store: BlobStore, settings: ArchiveSettings, folder_settings: FolderSettings, *,
        now: Callable[[], datetime], settle: Callable[[], None] | None = None) -> FolderRun:
    """One pass over the folder (see the module's docstring).

    Files count as finished when unchanged since the previous poll's look; with ``settle`` (called
    between two looks, e.g. a short sleep) when unchanged across it instead. Raises ValidationFailed
    when the folder is missing or the filing user cannot file.
    """
    folder = Path(folder_settings.path)
    if not folder.is_dir():
        raise ValidationFailed(_("监视文件夹不存在：%(folder)s", folder=folder), code="intake_folder_missing")
    for sub in (DONE, REJECTED):
        (folder / sub).mkdir(exist_ok=True)
    with _folder_lock(folder) as locked:
        if not locked:
            return FolderRun(busy=True)
        if settle is None:
            previous, current = _read_state(folder), look(folder)
        else:
            previous = look(folder)
            settle()
            current = look(folder)
        ready = settled(previous, current)
        result = FolderRun(waiting=sorted(set(current) - set(ready)))
        if ready:
            actor = intake_actor(session, folder_settings.username)
            for name in ready:
                outcome = file_one(session, store, settings, actor, folder, name, now=now)
                result.outcomes.append(outcome)
                if outcome.code in ("storage_unavailable", "database_error"):
                    break  # the rest would fail alike: they wait for the next poll
        _write_state(folder, look(folder))
    return result


__all__ = ["FolderSettings", "FolderRun", "Outcome", "run", "file_one", "look", "settled", "is_temporary",
           "intake_actor", "SYSTEM_USERNAME", "DONE", "REJECTED"]
