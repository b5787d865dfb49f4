"""The one clock. Services never read the time themselves: they take ``now`` from their caller,
which asks here (pages, API, jobs and the CLI), so tests pass any instant they like."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (stored as UTC everywhere)."""
    return datetime.now(timezone.utc)


def utc_iso(value: datetime | None) -> str | None:
    """An aware instant as UTC ISO 8601, the API's form of every time (None stays None)."""
    return value.astimezone(timezone.utc).isoformat() if value else None
