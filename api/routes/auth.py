"""POST /api/auth/token: the OAuth2 password form gives a bearer token (throttled, recorded)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from api.errors import ApiError, documented
from api.logins import LoginAttempt, LoginRefused, log_in
from api.security import CurrentUser, SessionDep, SettingsDep, issue_token

router = APIRouter(tags=["auth"], responses=documented(401))


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


class Me(BaseModel):
    username: str
    full_name: str
    roles: list[str]
    scopes: list[str]


@router.post(
    "/api/auth/token",
    response_model=Token,
    summary="Log in (username, password)",
    responses=documented(429),
)
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> Token:
    """401 for a wrong username or password alike; 429 with Retry-After while the username or
    the caller's address is locked after too many failures (even for the right password)."""
    attempt = LoginAttempt.of(request, form.username, form.password, "api")
    try:
        user = log_in(session, settings, attempt)
    except LoginRefused as refused:
        if refused.retry_after is not None:
            headers = {"Retry-After": str(refused.retry_after)}
            raise ApiError(429, refused.code, headers=headers) from None
        raise ApiError(401, refused.code) from None
    return Token(access_token=issue_token(settings, user.username))


@router.get("/api/auth/me", response_model=Me, summary="Who am I")
def me(user: CurrentUser) -> Me:
    return Me.model_validate(user.model_dump())
