"""Column types and constraint helpers shared by every room's models."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import timezone

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given; pass an aware one")
            value = value.astimezone(timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


def in_values(column: str, values: Iterable[str]) -> str:
    """SQL for a CHECK constraint: ``column`` holds one of ``values`` (fixed vocabulary, not user input)."""
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"
