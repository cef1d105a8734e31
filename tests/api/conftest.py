"""The API in-process (ASGI) for routes that need only the database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from api.app import create_app
from api.security import issue_token
from db.models import User
from domain.cases import Role
from domain.passwords import hash_password
from settings import Settings

Login = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture
async def api(settings: Settings, engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, engine=engine, temporal=object())  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


@pytest.fixture
def make_user(engine: Engine, settings: Settings) -> Callable[..., tuple[User, dict[str, str]]]:
    """Create a user with `roles` and `scopes`; returns it and its bearer header."""

    def make(*roles: Role, scopes: tuple[str, ...] = ("*",), email: str | None = None):  # type: ignore[no-untyped-def]
        user = User(
            username=f"u{uuid.uuid4().hex[:10]}",
            password_hash=hash_password("pass-word-1"),
            roles=list(roles),
            scopes=list(scopes),
            email=email,
        )
        with Session(engine, expire_on_commit=False) as session:
            session.add(user)
            session.commit()
        return user, {"Authorization": f"Bearer {issue_token(settings, user.username)}"}

    return make
