"""Log-in throttling, counted in the database so it holds across gunicorn workers and web nodes.

Every attempt (a password or a second-factor code) is written to ``login_failures`` and committed
by the caller *before* the secret is checked, then the attempts made before it are counted. Parallel
guesses, whichever worker or node serves them, therefore see each other: of a burst at one account
only the first ``per_account`` are checked at all.

After ``per_account`` failures of one account within ``window`` (or ``per_address`` failures from
one client address, whatever the account: an office's staff share one NAT address, hence a higher
limit) each further attempt must wait ``first_delay`` seconds after the last failure, doubling with
every failure, at most ``window``. While it waits the secret is not checked at all, so guessing
during the delay is useless, and the refused attempt is not counted (it would only lock the real
user out for longer). A correct log-in removes its account's rows: this table is only the counter,
the audit log keeps every failure. Rows older than the window are pruned on write.
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from archive_app.accounts.models import LoginFailure
from archive_app.i18n import _, ngettext

# Column sizes of login_failures.
_USERNAME_LEN = 100
_ADDRESS_LEN = 64
# First key of the PostgreSQL advisory locks taken per account ("LF"): apart from any other lock.
_LOCK_SPACE = 0x4C46


@dataclass(frozen=True)
class ThrottleSettings:
    """How many failures are let through, over what window, and the first delay after that."""

    window: timedelta = timedelta(minutes=15)
    per_account: int = 5
    per_address: int = 20
    first_delay: float = 30.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ThrottleSettings:
        """The settings from the app config (ARCHIVE_LOGIN_*)."""
        return cls(window=timedelta(minutes=int(config["LOGIN_WINDOW_MINUTES"])),
                   per_account=int(config["LOGIN_MAX_FAILURES"]),
                   per_address=int(config["LOGIN_MAX_FAILURES_PER_ADDRESS"]))

    def delay_after(self, failures: int, limit: int) -> float:
        """Seconds to wait after the last of ``failures`` failures when ``limit`` are allowed."""
        if failures < limit:
            return 0.0
        return min(self.first_delay * 2 ** min(failures - limit, 32), self.window.total_seconds())


@dataclass(frozen=True)
class Wait:
    """A delay in force: whole seconds left, and whether the account or the address caused it."""

    seconds: int
    scope: str  # "account" | "address"

    @property
    def message(self) -> str:
        """The Chinese refusal shown on the log-in page."""
        if self.seconds < 120:
            left = ngettext("%(num)s 秒", "%(num)s 秒", self.seconds)
        else:
            left = ngettext("%(num)s 分钟", "%(num)s 分钟", math.ceil(self.seconds / 60))
        return _("登录失败次数过多，请 %(left)s后再试", left=left)


def _key(username: str) -> str:
    return username[:_USERNAME_LEN]


def record_attempt(session: Session, username: str, address: str, now: datetime,
                   settings: ThrottleSettings) -> int:
    """Count one attempt as a failure until it is known to be otherwise; returns its id (flushed, not committed).

    The caller commits it before checking the secret, so every other worker sees it at once;
    ``withdraw`` takes it back if the attempt was refused unchecked, ``succeeded`` once it was right.
    """
    if session.get_bind().dialect.name == "postgresql":
        # Attempts at one account take their ids and commit one after another, so each one counts
        # every earlier one (SQLite's transactions are serialised already).
        session.execute(text("SELECT pg_advisory_xact_lock(:space, hashtext(:key))"),
                        {"space": _LOCK_SPACE, "key": _key(username)})
    session.execute(delete(LoginFailure).where(LoginFailure.at < now - settings.window))
    row = LoginFailure(at=now, username=_key(username), address=(address or "")[:_ADDRESS_LEN])
    session.add(row)
    session.flush()
    return row.id


def delay_for(session: Session, username: str, address: str, now: datetime, settings: ThrottleSettings,
              *, before: int | None = None) -> Wait | None:
    """The delay in force for a log-in as ``username`` from ``address`` at ``now``, or None.

    With ``before`` (the id of the caller's own attempt) only the attempts recorded earlier are counted.
    The longer of the account's and the address's delays wins.
    """
    since = now - settings.window
    scopes = [("account", LoginFailure.username == _key(username), settings.per_account)]
    if address:
        scopes.append(("address", LoginFailure.address == address[:_ADDRESS_LEN], settings.per_address))
    longest: Wait | None = None
    for scope, matches, limit in scopes:
        query = select(func.count(LoginFailure.id), func.max(LoginFailure.at)).where(matches, LoginFailure.at > since)
        if before is not None:
            query = query.where(LoginFailure.id < before)
        count, last = session.execute(query).one()
        delay = settings.delay_after(count, limit)
        if not delay:
            continue
        left = math.ceil((last + timedelta(seconds=delay) - now).total_seconds())
        if left > 0 and (longest is None or left > longest.seconds):
            longest = Wait(seconds=left, scope=scope)
    return longest


def withdraw(session: Session, attempt: int) -> None:
    """Take back the attempt ``attempt`` (an id): refused unchecked, or not a failure after all."""
    session.execute(delete(LoginFailure).where(LoginFailure.id == attempt))


def succeeded(session: Session, username: str) -> int:
    """Forget the account's counted failures after a complete log-in; returns how many."""
    return session.execute(delete(LoginFailure).where(LoginFailure.username == _key(username))).rowcount or 0


class AuditThinner:
    """Lets one ``login.throttled`` audit entry per key through per ``interval``.

    Only the auditing of refused attempts is thinned here, in this process (so with W workers up to
    W entries per interval): an attacker hammering a locked account must not be able to flood the
    hash-chained log, whose appends are serialised. The throttle itself lives in the database.
    """

    def __init__(self, interval: timedelta = timedelta(minutes=1), max_keys: int = 10_000) -> None:
        self._interval = interval
        self._max_keys = max_keys
        self._last: OrderedDict[tuple[str, str], datetime] = OrderedDict()
        self._lock = threading.Lock()

    def should_audit(self, key: tuple[str, str], now: datetime) -> bool:
        """True when no entry for ``key`` was let through within the interval before ``now``."""
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._interval:
                return False
            self._last[key] = now
            self._last.move_to_end(key)
            while len(self._last) > self._max_keys:
                self._last.popitem(last=False)
            return True
