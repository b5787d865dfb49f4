"""The append-only audit log. Each entry carries the MAC of the previous one (a keyed hash chain)."""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from archive_app.dbtypes import UTCDateTime
from archive_app.extensions import db


class AuditEntry(db.Model):
    __tablename__ = "audit_log"
    # One user's recent entries of one kind: the refusal limit and the thumbnail coalescing count them
    # on every such request, and the log page filters by user.
    __table_args__ = (Index("ix_audit_log_actor_action_at", "actor_id", "action", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Position in the chain, from the head row; gaps reveal a deleted entry.
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    actor_name: Mapped[str] = mapped_column(String(100), default="")
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(32), default="")
    object_id: Mapped[str] = mapped_column(String(64), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    # Canonical JSON (sorted keys) of whatever the action records, e.g. before/after values.
    details: Mapped[str] = mapped_column(Text, default="{}")
    # Customers' personal data (name, phones, ID number, address...) the action recorded, with a random
    # salt; outside the chained bytes, so erasure can blank it (NULL) while the chain still verifies.
    personal: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Keyed digest of ``personal`` (empty when there is none): this is what the chain covers.
    personal_digest: Mapped[str] = mapped_column(String(64), default="")
    # How ``hash`` was made: "hmac-sha256" (keyed), or "sha256" for entries written before the key was
    # introduced (migration 0006); the keyed entries must follow every unkeyed one.
    scheme: Mapped[str] = mapped_column(String(16), default="hmac-sha256")
    prev_hash: Mapped[str] = mapped_column(String(64))
    # The entry's MAC (its SHA-256 for "sha256" entries), chained through the next entry's prev_hash.
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    @property
    def personal_data(self) -> dict | None:
        """The personal data recorded with this entry, or None (none recorded, or erased since)."""
        if not self.personal:
            return None
        return json.loads(self.personal)["data"]


class AuditHead(db.Model):
    """A single row holding the chain's last seq and hash.

    Appending updates this row first, which locks it (row lock on PostgreSQL, the write lock on
    SQLite), so concurrent appends queue up instead of forking the chain.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
