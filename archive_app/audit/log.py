"""Append to and verify the audit log: a chain of entries, each bound to the previous one by a keyed MAC.

The key (``ARCHIVE_AUDIT_KEY`` or the file ``archive init`` makes) never enters the database, so
whoever can write the database cannot recompute the chain after an edit. Customers' personal data
is kept beside the chained bytes, which cover only its keyed digest: erasing it leaves the chain
intact, and an erasure entry records which entries were blanked, when, and under which destruction.
Entries written before the key was introduced keep their plain SHA-256 hashes ("sha256" scheme).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from archive_app.accounts.models import User
from archive_app.audit.models import AuditEntry, AuditHead
from archive_app.clock import utcnow
from archive_app.errors import ConfigError

GENESIS = "0" * 64
SCHEME_LEGACY = "sha256"
SCHEME_MAC = "hmac-sha256"
# The details field of an erasure entry listing the seqs whose personal data it blanked.
ERASED_FIELD = "personal_erased"
ERASE_ACTION = "customer.erase"


def canonical(value: Any) -> str:
    """The one JSON form that is hashed: sorted keys, no spaces, UTF-8 text."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


class AuditKey:
    """The audit secret, split into one subkey per use so a MAC of one kind never passes for another."""

    __slots__ = ("chain", "personal", "anchor", "key_id")

    def __init__(self, secret: str | bytes) -> None:
        raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
        if not raw:
            raise ConfigError("the audit key is empty")

        def derive(label: str) -> bytes:
            return hmac.new(raw, f"archive-audit/{label}".encode(), hashlib.sha256).digest()

        self.chain = derive("chain")
        self.personal = derive("personal")
        self.anchor = derive("anchor")
        # Public: names the key in anchors and reports without revealing it.
        self.key_id = derive("key-id").hex()[:16]

    def __repr__(self) -> str:
        return f"AuditKey(id={self.key_id})"


# The key of each application's database engine. Services get only a session, and the many callers of
# record_event must not have to carry the key; the engine the session writes to identifies the app.
_KEYS: "weakref.WeakKeyDictionary[Engine, AuditKey]" = weakref.WeakKeyDictionary()


def install_key(engine: Engine, key: AuditKey) -> None:
    """Make ``key`` the audit key of every session bound to ``engine`` (create_app does it)."""
    _KEYS[engine] = key


def key_for(session: Session) -> AuditKey:
    """The audit key of the database this session writes to; ConfigError if none was installed."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    key = _KEYS.get(engine)
    if key is None:
        raise ConfigError("no audit key is configured for this database: set ARCHIVE_AUDIT_KEY or run "
                          "`archive init` to create the audit key file")
    return key


def entry_hash(prev_hash: str, seq: int, at: datetime, actor_id: int | None, actor_name: str, action: str,
               object_type: str, object_id: str, ip: str, details: str) -> str:
    """The unkeyed SHA-256 of entries written before the audit key existed ("sha256" scheme)."""
    payload = canonical([prev_hash, seq, at.isoformat(timespec="microseconds"), actor_id, actor_name, action,
                          object_type, object_id, ip, details])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def entry_mac(key: AuditKey, prev_hash: str, seq: int, at: datetime, actor_id: int | None, actor_name: str,
              action: str, object_type: str, object_id: str, ip: str, details: str, personal_digest: str) -> str:
    """The HMAC-SHA256 binding an entry's fields (and its personal data's digest) to the previous entry."""
    payload = canonical([SCHEME_MAC, prev_hash, seq, at.isoformat(timespec="microseconds"), actor_id, actor_name,
                          action, object_type, object_id, ip, details, personal_digest])
    return hmac.new(key.chain, payload.encode("utf-8"), hashlib.sha256).hexdigest()


def personal_digest(key: AuditKey, personal: str) -> str:
    """Keyed digest of a stored ``personal`` field; without the key an ID number cannot be guessed from it."""
    return hmac.new(key.personal, personal.encode("utf-8"), hashlib.sha256).hexdigest()


def _seal_personal(key: AuditKey, data: dict | None) -> tuple[str | None, str]:
    if not data:
        return None, ""
    # The random salt is erased with the data: afterwards not even the key holder can test a guess.
    text = canonical({"data": data, "salt": secrets.token_hex(16)})
    return text, personal_digest(key, text)


def record_event(session: Session, action: str, *, actor: User | None = None, actor_name: str = "",
                 object_type: str = "", object_id: Any = "", details: dict | None = None, ip: str = "",
                 now: datetime | None = None, personal: dict | None = None,
                 key: AuditKey | None = None) -> AuditEntry:
    """Add one audit entry to the session's transaction; it commits with the action it records.

    ``personal``: customers' personal data the entry records (names, phones, ID numbers, addresses);
    kept out of ``details`` so that erasing a customer can blank it (``erase_personal``). ``key``
    defaults to the one installed for the session's database. The head row is updated before it is
    read, so the lock it takes serialises appenders.
    """
    _append_pending_reads(session)
    return _append(session, action, actor=actor, actor_name=actor_name, object_type=object_type,
                   object_id=object_id, details=details, ip=ip, now=now or utcnow(), personal=personal, key=key)


# Reads waiting in a session for its commit (see record_read).
_PENDING = "audit_pending_reads"


def record_read(session: Session, action: str, *, actor: User | None = None, object_type: str = "",
                object_id: Any = "", details: dict | None = None, ip: str = "", now: datetime | None = None,
                personal: dict | None = None) -> None:
    """Record that something was read; the entry is appended when the session commits.

    Appending takes the chain's lock (on SQLite, the database's one write lock) until the commit.
    A page that records its read first and then renders would hold it while rendering, and every
    other reader would queue behind it; deferred to the commit, the lock is held for the append
    alone. The entry keeps the time of the read, and a rolled-back request drops it, as before. An
    entry recorded with ``record_event`` later in the same transaction is appended after it.
    """
    session.info.setdefault(_PENDING, []).append(dict(
        action=action, actor=actor, object_type=object_type, object_id=object_id, details=details, ip=ip,
        now=now or utcnow(), personal=personal))


def _append_pending_reads(session: Session) -> None:
    for pending in session.info.pop(_PENDING, ()):
        _append(session, pending.pop("action"), actor_name="", key=None, **pending)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    _append_pending_reads(session)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction) -> None:
    if not previous_transaction.nested:  # a savepoint rolled back keeps the reads before it
        session.info.pop(_PENDING, None)


def _append(session: Session, action: str, *, actor: User | None, actor_name: str, object_type: str,
            object_id: Any, details: dict | None, ip: str, now: datetime, personal: dict | None,
            key: AuditKey | None) -> AuditEntry:
    key = key or key_for(session)
    # Timestamps are hashed at microsecond precision; keep the stored value identical.
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1))
    head = session.execute(select(AuditHead.seq, AuditHead.last_hash).where(AuditHead.id == 1)).one_or_none()
    if head is None:
        raise RuntimeError("audit_head row missing: the database was not migrated")
    seq, prev = head
    name = actor_name or (actor.display_name if actor is not None else "")
    actor_id = actor.id if actor is not None else None
    details_json = canonical(details or {})
    personal_json, digest = _seal_personal(key, personal)
    mac = entry_mac(key, prev, seq, now, actor_id, name, action, object_type, str(object_id), ip, details_json,
                    digest)
    entry = AuditEntry(seq=seq, at=now, actor_id=actor_id, actor_name=name, action=action,
                       object_type=object_type, object_id=str(object_id), ip=ip, details=details_json,
                       personal=personal_json, personal_digest=digest, scheme=SCHEME_MAC, prev_hash=prev, hash=mac)
    session.add(entry)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=mac))
    return entry


def record_events(session: Session, events: list[dict], *, key: AuditKey | None = None) -> list[AuditEntry]:
    """Append many entries at once (``record_event``'s keyword arguments, one dict each), in order.

    The same chain as appending them one by one, but the head row is moved once for all of them: a
    bulk action (approving hundreds of drafts) costs a few statements instead of several per entry.
    """
    _append_pending_reads(session)
    if not events:
        return []
    key = key or key_for(session)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + len(events)))
    head = session.execute(select(AuditHead.seq, AuditHead.last_hash).where(AuditHead.id == 1)).one_or_none()
    if head is None:
        raise RuntimeError("audit_head row missing: the database was not migrated")
    last, prev = head
    seq = last - len(events)
    entries = []
    for ev in events:
        seq += 1
        actor = ev.get("actor")
        name = ev.get("actor_name") or (actor.display_name if actor is not None else "")
        actor_id = actor.id if actor is not None else None
        now = ev.get("now") or utcnow()
        object_type, object_id, ip = ev.get("object_type", ""), str(ev.get("object_id", "")), ev.get("ip", "")
        details_json = canonical(ev.get("details") or {})
        personal_json, digest = _seal_personal(key, ev.get("personal"))
        mac = entry_mac(key, prev, seq, now, actor_id, name, ev["action"], object_type, object_id, ip,
                        details_json, digest)
        entries.append(AuditEntry(seq=seq, at=now, actor_id=actor_id, actor_name=name, action=ev["action"],
                                  object_type=object_type, object_id=object_id, ip=ip, details=details_json,
                                  personal=personal_json, personal_digest=digest, scheme=SCHEME_MAC,
                                  prev_hash=prev, hash=mac))
        prev = mac
    session.add_all(entries)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=prev))
    return entries


def erase_personal(session: Session, *, customer_id: int, record_ids: list[int], actor: User | None,
                   now: datetime, details: dict | None = None) -> AuditEntry:
    """Blank the personal data of every entry about this customer or its records, and record the erasure.

    The erasure entry (``customer.erase``) lists the blanked entries' seqs beside ``details`` (the
    destruction batch, the 客户号), so verification accepts exactly those blanks and reports them.
    """
    about = (AuditEntry.object_type == "customer") & (AuditEntry.object_id == str(customer_id))
    if record_ids:
        about = about | ((AuditEntry.object_type == "record")
                         & AuditEntry.object_id.in_([str(r) for r in record_ids]))
    seqs = list(session.scalars(select(AuditEntry.seq).where(about, AuditEntry.personal.is_not(None))
                                .order_by(AuditEntry.seq)))
    if seqs:
        session.execute(update(AuditEntry).where(AuditEntry.seq.in_(seqs)).values(personal=None)
                        .execution_options(synchronize_session="fetch"))
    return record_event(session, ERASE_ACTION, actor=actor, object_type="customer", object_id=customer_id, now=now,
                        details={**(details or {}), ERASED_FIELD: seqs})


@dataclass(frozen=True)
class ChainProblem:
    """One break in the chain: where, and what is wrong."""

    seq: int
    problem: str


@dataclass(frozen=True)
class Erasure:
    """An erasure entry: how many entries' personal data it blanked, when, under which destruction."""

    seq: int
    at: datetime
    count: int
    batch_no: str
    customer_no: str


@dataclass
class ChainWalk:
    """What walking the chain found: its problems, and what the report says about it."""

    problems: list[ChainProblem] = field(default_factory=list)
    entries: int = 0
    legacy: int = 0
    keyed: int = 0
    bad_macs: int = 0
    last_seq: int = 0
    erasures: list[Erasure] = field(default_factory=list)


def walk_chain(session: Session, key: AuditKey | None = None, batch: int = 5000) -> ChainWalk:
    """Walk the log in order and report every edited, inserted or deleted entry, and every personal-data
    field changed, or blanked without an erasure entry that lists it."""
    key = key or key_for(session)
    out = ChainWalk()
    problems = out.problems
    prev = GENESIS
    expected_seq = 1
    blanked: list[int] = []
    covered: set[int] = set()
    stmt = select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=batch)
    for e in session.scalars(stmt):
        out.entries += 1
        if e.seq != expected_seq:
            problems.append(ChainProblem(e.seq, f"entries {expected_seq}..{e.seq - 1} are missing (deleted)"))
        if e.prev_hash != prev:
            problems.append(ChainProblem(e.seq, "prev_hash does not match the previous entry"))
        if e.scheme == SCHEME_MAC:
            out.keyed += 1
            expected = entry_mac(key, e.prev_hash, e.seq, e.at, e.actor_id, e.actor_name, e.action, e.object_type,
                                 e.object_id, e.ip, e.details, e.personal_digest)
            if not hmac.compare_digest(expected, e.hash):
                out.bad_macs += 1
                problems.append(ChainProblem(e.seq, "content was changed after it was written (its MAC does not "
                                                    "match)"))
        elif e.scheme == SCHEME_LEGACY:
            out.legacy += 1
            if out.keyed:
                # Rewriting entries with the public SHA-256 rule needs no key: refuse it after the first MAC.
                problems.append(ChainProblem(e.seq, "written with the old unkeyed rule after keyed entries "
                                                    "(rewritten without the key)"))
            recomputed = entry_hash(e.prev_hash, e.seq, e.at, e.actor_id, e.actor_name, e.action, e.object_type,
                                    e.object_id, e.ip, e.details)
            if recomputed != e.hash or e.personal is not None or e.personal_digest:
                problems.append(ChainProblem(e.seq, "content was changed after it was written"))
        else:
            problems.append(ChainProblem(e.seq, f"unknown scheme {e.scheme!r}"))
        if e.personal_digest:
            if e.personal is None:
                blanked.append(e.seq)
            elif not hmac.compare_digest(personal_digest(key, e.personal), e.personal_digest):
                problems.append(ChainProblem(e.seq, "personal data was changed after it was written"))
        elif e.personal is not None:
            problems.append(ChainProblem(e.seq, "personal data was added after the entry was written"))
        if e.scheme == SCHEME_MAC and f'"{ERASED_FIELD}"' in e.details:
            info = json.loads(e.details)
            seqs = [s for s in info.get(ERASED_FIELD) or [] if isinstance(s, int) and s < e.seq]
            covered.update(seqs)
            out.erasures.append(Erasure(e.seq, e.at, len(seqs), str(info.get("batch_no", "")),
                                        str(info.get("customer_no", ""))))
        prev = e.hash
        expected_seq = e.seq + 1
        out.last_seq = e.seq
    for seq in blanked:
        if seq not in covered:
            problems.append(ChainProblem(seq, "personal data was removed without an erasure entry"))
    head = session.get(AuditHead, 1)
    if head is not None:
        if head.seq != out.last_seq:
            problems.append(ChainProblem(head.seq, f"the last {head.seq - out.last_seq} entries are missing"))
        elif head.last_hash != prev:
            problems.append(ChainProblem(out.last_seq, "the last entry does not match the chain head"))
    problems.sort(key=lambda p: p.seq)
    return out


def verify_chain(session: Session, batch: int = 5000, key: AuditKey | None = None) -> list[ChainProblem]:
    """Every break in the chain as stored in the database (``verification.verify_log`` adds the anchors)."""
    return walk_chain(session, key, batch).problems
