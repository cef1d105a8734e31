"""The API in-process (ASGI) for routes that need only the database.

The app gets an engine of its own that notes every statement run on the event loop's thread:
async routes must hand their database work to a worker thread, or one query waiting on a lock
stalls every request. A test whose requests ran one there fails.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event
from sqlmodel import Session

from api.app import create_app
from api.security import issue_token
from db.engine import make_engine
from db.models import User
from domain.cases import Role
from domain.passwords import hash_password
from settings import Settings

Login = Callable[..., Awaitable[dict[str, str]]]


def statements_on_the_loop(engine: Engine) -> list[str]:
    """The statements `engine` will run on a thread that runs an event loop."""
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # a worker thread
        seen.append(statement)

    return seen


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    engine = make_engine(settings.database_url)
    on_the_loop = statements_on_the_loop(engine)
    app = create_app(settings, engine=engine, temporal=object())  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        client.app = app  # type: ignore[attr-defined]
        yield client
    engine.dispose()
    assert on_the_loop == [], "database work ran on the event loop"


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
