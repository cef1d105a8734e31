"""Signed tokens (bearer and session cookie), their revocation, and the acting user of a request.

A token carries its subject, its issue time `iat` (seconds, to the microsecond), its id `jti`
and its expiry. It is void when its user is gone or disabled, when it was issued before the
user's `tokens_valid_after` (a password reset, a disable, "log out everywhere" set it to now;
compared in whole microseconds, so a token issued right after a reset, even in the same
second, still works), or when its `jti` was logged out (the revoked_tokens table, purged of
rows past their expiry). A token without `iat` or `jti` (issued before revocation existed) is
refused: after that upgrade everyone logs in once more.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Engine, bindparam, delete, exists
from sqlmodel import Session, col, select

from api.blocking import run_blocking
from api.errors import ApiError
from db.models import RevokedToken, User, utcnow
from domain.cases import Role
from domain.passwords import hash_password as hash_password  # still imported from here by bench/
from domain.tasks import Actor
from processes.declaration import Registry
from settings import Settings

SESSION_COOKIE = "peygir_session"

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(moment: datetime) -> int:
    """Whole microseconds since the epoch: exact, where a float timestamp is not."""
    return (moment - EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True)
class TokenClaims:
    username: str
    issued_us: int
    """`iat` in whole microseconds."""
    jti: str
    expires_at: datetime


def issue_token(settings: Settings, username: str) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": username,
        # RFC 7519 allows a non-integer NumericDate; microseconds survive the float exactly.
        "iat": micros(now) / 1_000_000,
        "exp": now + timedelta(minutes=settings.access_token_minutes),
        "jti": secrets.token_urlsafe(16),
    }
    return jwt.encode(claims, settings.secret_key, algorithm="HS256")


def read_token(settings: Settings, token: str) -> TokenClaims | None:
    """The claims of a well-signed, unexpired token that has them all; None otherwise."""
    try:
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=["HS256"],
            options={"require": ["sub", "iat", "exp", "jti"]},
        )
    except jwt.PyJWTError:
        return None
    subject, issued, jti, expiry = (claims.get(k) for k in ("sub", "iat", "jti", "exp"))
    if not (
        isinstance(subject, str)
        and isinstance(issued, int | float)
        and isinstance(jti, str)
        and 0 < len(jti) <= 64
        and isinstance(expiry, int | float)
    ):
        return None
    return TokenClaims(
        username=subject,
        issued_us=round(issued * 1_000_000),
        jti=jti,
        expires_at=datetime.fromtimestamp(expiry, UTC),
    )


def revoke_token(session: Session, claims: TokenClaims) -> None:
    """Log this one token out (and forget the revocations that have expired anyway)."""
    session.execute(delete(RevokedToken).where(col(RevokedToken.expires_at) < utcnow()))
    if session.get(RevokedToken, claims.jti) is None:
        session.add(RevokedToken(jti=claims.jti, expires_at=claims.expires_at))
    session.commit()


def void_tokens(user: User) -> None:
    """Every token `user` holds now is void (the caller commits, with the change that asks it)."""
    user.tokens_valid_after = utcnow()


def actor_of(user: User) -> Actor:
    return Actor(
        username=user.username,
        roles=[Role(r) for r in user.roles if r in Role.__members__ and r != Role.requester],
        scopes=list(user.scopes),
    )


# Dependencies that do no I/O are async, so FastAPI does not hop to a thread for them.
async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """Sync, so FastAPI opens and closes it (a rollback, a connection back to the pool) in a
    worker thread, never on the event loop."""
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


async def get_processes(request: Request) -> Registry:
    processes: Registry = request.app.state.processes
    return processes


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ProcessesDep = Annotated[Registry, Depends(get_processes)]
"""The processes this app runs (`create_app(processes=...)`)."""
SessionDep = Annotated[Session, Depends(get_session)]


_REVOKED = exists().where(col(RevokedToken.jti) == bindparam("jti")).label("revoked")
"""Whether the token's `jti` is in revoked_tokens, asked beside its user."""


def _user_of_token(settings: Settings, session: Session, token: str | None) -> User | None:
    claims = read_token(settings, token) if token else None
    if claims is None:
        return None
    # One statement per request: the user and whether this token was logged out.
    row = session.exec(
        select(User, _REVOKED).where(User.username == claims.username).params(jti=claims.jti)
    ).first()
    if row is None:
        return None
    user, revoked = row
    if revoked or not user.is_active:
        return None
    if user.tokens_valid_after is not None and claims.issued_us < micros(user.tokens_valid_after):
        return None
    return user


def optional_user(
    settings: SettingsDep,
    session: SessionDep,
    bearer: Annotated[str | None, Depends(oauth2_scheme)],
) -> User | None:
    """The API caller from its bearer token. The API ignores cookies: no cross-site requests."""
    return _user_of_token(settings, session, bearer)


def _user_of(engine: Engine, settings: Settings, token: str) -> User | None:
    with Session(engine, expire_on_commit=False) as session:
        return _user_of_token(settings, session, token)


async def caller_if_any(
    request: Request,
    settings: SettingsDep,
    bearer: Annotated[str | None, Depends(oauth2_scheme)],
) -> User | None:
    """`optional_user` for routes the public calls most: without a token, no session, no
    database and no thread hop; with one, the lookup runs in a worker thread."""
    if bearer is None:
        return None
    return await run_blocking(_user_of, request.app.state.engine, settings, bearer)


async def session_user(request: Request, settings: SettingsDep) -> User | None:
    """The person logged in to the web pages (session cookie; forms carry a CSRF token).
    A visitor without the cookie costs no database work; the lookup runs in a worker thread."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return await run_blocking(_user_of, request.app.state.engine, settings, token)


def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise ApiError(401, "not_authenticated")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require_role(*roles: Role) -> Callable[[User], User]:
    """A dependency that lets in users holding any of `roles` (admin always)."""

    def check(user: CurrentUser) -> User:
        if not ({Role.admin, *roles} & set(user.roles)):
            raise ApiError(403, "forbidden")
        return user

    return check
