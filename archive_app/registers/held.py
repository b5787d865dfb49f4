"""Registers held between their check and their import, in the blob store.

An archivist uploads a register, sees the check (a dry run), may correct the mapping and then runs
the import: two or more requests, which behind a load balancer may reach different web nodes. The
uploaded bytes therefore wait in the shared store under ``held/registers/<token>``, never on one
node's disk. They are not part of the archive: nothing in the database points to them, backups
skip them (they copy the keys the database names) and they are removed after the import, or by the
next upload once older than ``HELD_SECONDS``.
"""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import BinaryIO

from archive_app.errors import StorageFailed
from archive_app.i18n import _l
from storage import BlobStore
from storage.base import BlobNotFound, StorageError

PREFIX = "held/registers/"
# An upload checked and never imported is removed after this long (it holds customers' personal data).
HELD_SECONDS = 24 * 3600
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_UNAVAILABLE = _l("存储服务不可用，暂时无法处理登记表")


def valid_token(token: str) -> bool:
    """Whether ``token`` has the form ``hold`` gives (anything else names no held register)."""
    return bool(_TOKEN.match(token))


def hold(store: BlobStore, stream: BinaryIO, *, max_size: int | None = None) -> str:
    """Keep an uploaded register in the store; returns the token that names it."""
    token = uuid.uuid4().hex
    try:
        store.put(PREFIX + token, stream, max_size=max_size)
    except StorageError:
        raise StorageFailed(str(_UNAVAILABLE)) from None
    return token


def read(store: BlobStore, token: str) -> bytes | None:
    """The held register's bytes, or None when the token names none (imported, expired or made up)."""
    if not valid_token(token):
        return None
    try:
        with store.open(PREFIX + token) as fh:
            return fh.read()
    except BlobNotFound:
        return None
    except StorageError:
        raise StorageFailed(str(_UNAVAILABLE)) from None


def release(store: BlobStore, token: str) -> None:
    """Remove a held register (after its import); a store that cannot be reached leaves it for ``forget_old``."""
    if not valid_token(token):
        return
    try:
        store.delete(PREFIX + token)
    except StorageError:
        pass  # the import is committed; the bytes go with the next sweep of old holds


def forget_old(store: BlobStore, now: datetime) -> list[str]:
    """Remove registers held longer than ``HELD_SECONDS``; returns their keys."""
    cutoff = now - timedelta(seconds=HELD_SECONDS)
    removed = []
    try:
        for key in list(store.keys(PREFIX)):
            if store.written_before(key, cutoff):
                store.delete(key)
                removed.append(key)
    except StorageError:
        pass  # tried again by the next upload; holding a little longer harms nothing
    return removed

