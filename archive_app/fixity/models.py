"""Fixity rows: one per run (what was checked, how fast, what failed) and the latest result per file."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from archive_app.clock import utcnow
from archive_app.dbtypes import UTCDateTime
from archive_app.extensions import db


class FixityRun(db.Model):
    """One ``fixity-check`` (command or nightly job): its scope, figures and problems found."""

    __tablename__ = "fixity_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # "all", "sample" (a percentage) or "cycle" (the nightly share of ARCHIVE_FIXITY_CYCLE_DAYS)
    scope: Mapped[str] = mapped_column(String(16))
    sample_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    trigger: Mapped[str] = mapped_column(String(16), default="command")
    files_checked: Mapped[int] = mapped_column(Integer, default=0)
    bytes_checked: Mapped[int] = mapped_column(BigInteger, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    orphans: Mapped[int] = mapped_column(Integer, default=0)
    # JSON list of the problems (file failures and objects without a row), shown on the admin page.
    problems: Mapped[str] = mapped_column(Text, default="[]")


class FixityResult(db.Model):
    """The latest check of one stored original. No foreign key: a destruction deletes file rows
    without knowing of fixity, and a result of a file that is gone is simply never joined again."""

    __tablename__ = "fixity_results"

    file_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    record_id: Mapped[int] = mapped_column(Integer, index=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # ok | mismatch | missing | unreadable (checks.STATUS_LABELS)
    status: Mapped[str] = mapped_column(String(16), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
