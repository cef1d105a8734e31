"""Logins: argon2 password hashes, signed bearer tokens, and the acting user of a request."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.blocking import run_blocking
from api.errors import ApiError
from db.models import User
from domain.cases import Role
from domain.passwords import hash_password as hash_password  # still imported from here by bench/
from domain.tasks import Actor
from processes.declaration import Registry
from settings import Settings

SESSION_COOKIE = "peygir_session"

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


def issue_token(settings: Settings, username: str) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": username,
        "iat": now,
        "exp": now + timedelta(minutes=settings.access_token_minutes),
    }
    return jwt.encode(claims, settings.secret_key, algorithm="HS256")


def token_subject(settings: Settings, token: str) -> str | None:
    try:
        claims = jwt.decode(token, settings.secret_key, algorithms=["HS256"])
    except jwt.PyJWTError:
        return None
    subject = claims.get("sub")
    return subject if isinstance(subject, str) else None


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


def _user_of_token(settings: Settings, session: Session, token: str | None) -> User | None:
    username = token_subject(settings, token) if token else None
    if username is None:
        return None
    user = session.exec(select(User).where(User.username == username)).first()
    return user if user is not None and user.is_active else None


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
