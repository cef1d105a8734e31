"""Logging in, for the API's token route and the web's /login alike: throttling and records.

Failures are counted per username (as typed, case aside) and per client address, in the
database, so a lock holds across API processes and restarts. Past the limit, a key is locked
for `login_lock_base_seconds`, doubled by each further failure up to `login_lock_max_seconds`.
While a key is locked an attempt is refused unread (429 with Retry-After), even with the right
password, and it is not counted: a lock never grows by being knocked on, so the real user of
an account under attack gets in at most `login_lock_max_seconds` after the last counted failure.
A successful login clears its account's count. Unknown usernames are counted and refused exactly
as known ones are, so neither the answer nor the lock tells which accounts exist.

An account's lock does not hold against an address the account logged in from within
`KNOWN_ADDRESS_DAYS` (its owner's office, its VPN): an attacker elsewhere who keeps knocking
as each lock passes would otherwise keep the real user out for good. That address's own count
still applies, so guessing from it is throttled as before.

Every attempt is recorded (LoginRecord): the username as typed (truncated), the account's id when
there is one, the address, the user agent, the outcome; never the password.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Request
from sqlalchemy import delete, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from db.models import LoginOutcome, LoginRecord, LoginThrottle, User, utcnow
from domain.passwords import verify_no_user, verify_password
from settings import Settings

USERNAME_CHARS = 64
AGENT_CHARS = 300
KNOWN_ADDRESS_DAYS = 30
"""How long a successful login makes its address known to the account (see above)."""


@dataclass(frozen=True)
class LoginAttempt:
    username: str
    password: str
    address: str
    user_agent: str
    channel: str
    """`api` or `web`."""

    @classmethod
    def of(cls, request: Request, username: str, password: str, channel: str) -> LoginAttempt:
        return cls(
            username=username.strip(),
            password=password,
            address=client_address(request),
            user_agent=request.headers.get("user-agent", "")[:AGENT_CHARS],
            channel=channel,
        )


class LoginRefused(Exception):
    """`invalid_credentials` (401) or `login_locked` (429, `retry_after` seconds)."""

    def __init__(self, code: str, retry_after: int | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.retry_after = retry_after

    @property
    def minutes(self) -> int:
        return max(1, math.ceil((self.retry_after or 0) / 60))


def client_address(request: Request) -> str:
    return (request.client.host if request.client else "")[:64]


def _keys(attempt: LoginAttempt) -> tuple[str, str]:
    return (
        f"account:{attempt.username.casefold()[:USERNAME_CHARS]}",
        f"address:{attempt.address}",
    )


def _locked_for(session: Session, keys: tuple[str, ...], now: datetime) -> float:
    """Seconds until every lock on `keys` has passed (0 when none is on)."""
    rows = session.exec(select(LoginThrottle).where(col(LoginThrottle.key).in_(keys))).all()
    return max(
        [(r.locked_until - now).total_seconds() for r in rows if r.locked_until is not None] + [0.0]
    )


def _known_address(session: Session, attempt: LoginAttempt, now: datetime) -> bool:
    """The account logged in from this address lately."""
    since = now - timedelta(days=KNOWN_ADDRESS_DAYS)
    found = session.exec(
        select(LoginRecord.id)
        .where(
            col(LoginRecord.username) == attempt.username[:USERNAME_CHARS],
            col(LoginRecord.address) == attempt.address,
            col(LoginRecord.outcome) == LoginOutcome.ok,
            col(LoginRecord.at) >= since,
        )
        .limit(1)
    ).first()
    return found is not None


def _count_failure(
    session: Session, key: str, limit: int, settings: Settings, now: datetime
) -> None:
    window = timedelta(minutes=settings.login_failure_window_minutes)
    row = session.exec(
        select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()
    ).first()
    if row is None:
        row = LoginThrottle(key=key, failures=0, last_failure_at=now)
    elif now - row.last_failure_at > window:
        row.failures = 0
    row.failures += 1
    row.last_failure_at = now
    if row.failures >= limit:
        doublings = min(row.failures - limit, 20)
        seconds = min(
            settings.login_lock_base_seconds * 2**doublings, settings.login_lock_max_seconds
        )
        row.locked_until = now + timedelta(seconds=seconds)
    session.add(row)


def _forget_idle(session: Session, settings: Settings, now: datetime) -> None:
    """Counts whose window has passed and whose lock (if any) is over."""
    idle = now - timedelta(minutes=settings.login_failure_window_minutes)
    session.execute(
        delete(LoginThrottle).where(
            col(LoginThrottle.last_failure_at) < idle,
            or_(col(LoginThrottle.locked_until).is_(None), col(LoginThrottle.locked_until) < now),
        )
    )


def _record(
    session: Session, attempt: LoginAttempt, user: User | None, outcome: LoginOutcome, now: datetime
) -> None:
    session.add(
        LoginRecord(
            at=now,
            username=attempt.username[:USERNAME_CHARS],
            user_id=user.id if user is not None else None,
            address=attempt.address,
            user_agent=attempt.user_agent,
            outcome=outcome,
            channel=attempt.channel,
        )
    )
    # The record is the transaction's first write: on SQLite it takes the write lock before the
    # counts are read, so two failures at once never both count from the same old value.
    session.flush()


def _judge(session: Session, attempt: LoginAttempt) -> tuple[User | None, LoginOutcome]:
    user = session.exec(select(User).where(User.username == attempt.username)).first()
    session.commit()  # no read transaction stays open over the hash (a tenth of a second)
    if user is None:
        verify_no_user(attempt.password)
        return None, LoginOutcome.unknown_user
    if not verify_password(user.password_hash, attempt.password):
        return user, LoginOutcome.wrong_password
    if not user.is_active:
        return user, LoginOutcome.disabled
    return user, LoginOutcome.ok


def log_in(session: Session, settings: Settings, attempt: LoginAttempt) -> User:
    """The user whose password this is, or LoginRefused; the attempt is recorded either way."""
    keys = _keys(attempt)
    now = utcnow()
    wait = _locked_for(session, keys[1:], now)
    if wait == 0 and not _known_address(session, attempt, now):
        wait = _locked_for(session, keys[:1], now)
    if wait > 0:
        user = session.exec(select(User).where(User.username == attempt.username)).first()
        _record(session, attempt, user, LoginOutcome.locked, utcnow())
        session.commit()
        raise LoginRefused("login_locked", retry_after=max(1, math.ceil(wait)))
    user, outcome = _judge(session, attempt)
    for tries in range(2):
        now = utcnow()
        try:
            _record(session, attempt, user, outcome, now)
            if outcome is LoginOutcome.ok:
                session.execute(delete(LoginThrottle).where(col(LoginThrottle.key) == keys[0]))
            else:
                _count_failure(
                    session, keys[0], settings.login_max_failures_per_account, settings, now
                )
                _count_failure(
                    session, keys[1], settings.login_max_failures_per_address, settings, now
                )
                _forget_idle(session, settings, now)
            session.commit()
            break
        except IntegrityError:  # another process made the same new count row first
            session.rollback()
            if tries:
                raise
    if outcome is not LoginOutcome.ok or user is None:
        raise LoginRefused("invalid_credentials")
    return user
