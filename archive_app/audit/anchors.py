"""Anchors: the chain head (count and MAC) written regularly outside the database, where no one can take it back.

Each anchor is a small JSON object ``audit/anchors/<seq>.json`` in the blob store: on S3 it gets
Object Lock retention (the bucket must have Object Lock, as docker-compose creates it), on the
embedded default it is a file under the file store's folder, locked by the store's own retention
metadata — never a database row. Deleting the newest entries and moving the head back then leaves
fewer entries than the newest anchor counted, and rewriting the chain with another key changes
the MAC at the anchored position. Anchors are signed with the audit key, so one written by whoever
can write to the store but lacks the key is recognised as forged.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive_app.audit.log import AuditKey, canonical, key_for
from archive_app.audit.models import AuditHead
from storage.base import BlobExists, BlobStore, RetentionViolation, StorageError

log = logging.getLogger(__name__)

PREFIX = "audit/anchors/"
# The log is kept for good; its anchors as long as records without a disposal date (retention/locks.py).
RETAIN = timedelta(days=100 * 365 + 25)


@dataclass(frozen=True)
class Anchor:
    """One anchor: the chain had ``seq`` entries, the last with MAC ``mac``, at ``at``."""

    seq: int
    mac: str
    at: datetime
    key_id: str
    blob_key: str


class BadAnchor(Exception):
    """An anchor object that is unreadable, or not signed with this audit key."""


def anchor_blob_key(seq: int) -> str:
    """The store key of the anchor at ``seq``; zero-padded so the keys sort by seq."""
    return f"{PREFIX}{seq:012d}.json"


def _sign(key: AuditKey, fields: dict) -> str:
    return hmac.new(key.anchor, canonical(fields).encode("utf-8"), hashlib.sha256).hexdigest()


def _encode(key: AuditKey, seq: int, mac: str, at: datetime) -> bytes:
    fields = {"seq": seq, "mac": mac, "at": at.isoformat(), "key_id": key.key_id}
    return canonical({**fields, "sig": _sign(key, fields)}).encode("utf-8")


def read_anchor(store: BlobStore, blob_key: str, key: AuditKey) -> Anchor:
    """Read and check one anchor; BadAnchor if it is unreadable or its signature is not this key's."""
    with store.open(blob_key) as fh:
        raw = fh.read()
    try:
        body = json.loads(raw)
        fields = {k: body[k] for k in ("seq", "mac", "at", "key_id")}
        sig = body["sig"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BadAnchor(f"anchor {blob_key} is unreadable") from exc
    if fields["key_id"] != key.key_id:
        raise BadAnchor(f"anchor {blob_key} was signed with another audit key (id {fields['key_id']}; this "
                        f"server's key is {key.key_id})")
    if not hmac.compare_digest(_sign(key, fields), str(sig)):
        raise BadAnchor(f"anchor {blob_key} is forged (its signature does not match the audit key)")
    return Anchor(int(fields["seq"]), str(fields["mac"]), datetime.fromisoformat(fields["at"]), fields["key_id"],
                  blob_key)


def newest_anchor(store: BlobStore, key: AuditKey) -> tuple[Anchor | None, list[str]]:
    """The newest anchor signed with ``key``, and what is wrong with any newer object found under the prefix."""
    bad: list[str] = []
    for blob_key in sorted(store.keys(PREFIX), reverse=True):
        try:
            return read_anchor(store, blob_key, key), bad
        except BadAnchor as exc:
            bad.append(str(exc))
    return None, bad


def lock_anchor(store: BlobStore, blob_key: str, now: datetime) -> bool:
    """Lock the anchor against deletion (extend only); False when the store cannot lock objects."""
    if not store.lock_supported():
        log.warning("audit anchor %s is not locked: the store has no object lock", blob_key)
        return False
    try:
        store.set_retention(blob_key, now + RETAIN)
    except RetentionViolation:
        pass  # already locked longer
    return True


def anchor_head(session: Session, store: BlobStore, now: datetime, key: AuditKey | None = None) -> Anchor | None:
    """Write the chain head's count and MAC to the store as a locked anchor; None while the log is empty.

    Reads the committed head, so call it with no audit entry pending in ``session`` (jobs and the CLI
    do). Idempotent: an anchor already written at this count is only re-locked (a crash between the
    write and the lock is repaired by the next run).
    """
    key = key or key_for(session)
    head = session.execute(select(AuditHead.seq, AuditHead.last_hash).where(AuditHead.id == 1)).one_or_none()
    if head is None or head.seq == 0:
        return None
    seq, mac = head
    blob_key = anchor_blob_key(seq)
    if not store.exists(blob_key):
        try:
            store.put(blob_key, io.BytesIO(_encode(key, seq, mac, now)), content_type="application/json")
        except BlobExists:
            pass  # another worker anchored the same head at the same moment
        lock_anchor(store, blob_key, now)
    elif store.retention(blob_key).until is None:
        lock_anchor(store, blob_key, now)  # written, then the process died before locking it
    try:
        anchor = read_anchor(store, blob_key, key)
    except (BadAnchor, StorageError) as exc:
        log.error("audit anchor %s cannot be read back: %s", blob_key, exc)
        return None
    if anchor.mac != mac:
        # Anchored before with another MAC at this count: the log was cut back and refilled. Kept as it
        # is (it is the evidence); verification reports the mismatch.
        log.error("audit anchor %s does not match the chain head: the log was rewritten", blob_key)
        return None
    return anchor


__all__ = ["Anchor", "BadAnchor", "PREFIX", "anchor_blob_key", "anchor_head", "newest_anchor", "read_anchor"]
