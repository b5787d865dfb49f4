"""The import report (导入报告): what one register import found and wrote, kept to be read again later."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive_app.accounts.models import User
from archive_app.clock import utcnow
from archive_app.dbtypes import UTCDateTime
from archive_app.extensions import db


class RegisterImport(db.Model):
    """One register brought in: the file's name and kind, the counts, and every row's problem."""

    __tablename__ = "register_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    ready_rows: Mapped[int] = mapped_column(Integer, default=0)
    error_rows: Mapped[int] = mapped_column(Integer, default=0)
    duplicate_rows: Mapped[int] = mapped_column(Integer, default=0)
    customers_created: Mapped[int] = mapped_column(Integer, default=0)
    cards_created: Mapped[int] = mapped_column(Integer, default=0)
    # Whether the archivist chose to leave the rows with errors aside (else an import with errors is refused).
    skipped_errors: Mapped[bool] = mapped_column(Boolean, default=False)
    # JSON: the column headers and the field each was mapped to.
    mapping_json: Mapped[str] = mapped_column(Text, default="[]")
    # JSON list of {row, kind (error|duplicate), field, code, message}.
    problems_json: Mapped[str] = mapped_column(Text, default="[]")

    created_by: Mapped[User] = relationship()

    @property
    def problems(self) -> list[dict[str, Any]]:
        return json.loads(self.problems_json or "[]")

    @property
    def mapping(self) -> list[dict[str, Any]]:
        return json.loads(self.mapping_json or "[]")
