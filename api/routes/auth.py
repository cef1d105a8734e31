"""POST /api/auth/token: the OAuth2 password form gives a bearer token (throttled, recorded)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from api.errors import ApiError, documented
from api.logins import LoginAttempt, LoginRefused, log_in
from api.security import (
    CurrentUser,
    SessionDep,
    SettingsDep,
    issue_token,
    oauth2_scheme,
    read_token,
    revoke_token,
    void_tokens,
)

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


@router.post(
    "/api/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Log out: this bearer token is void from now on",
)
def logout(
    user: CurrentUser,
    bearer: Annotated[str | None, Depends(oauth2_scheme)],
    session: SessionDep,
    settings: SettingsDep,
) -> None:
    claims = read_token(settings, bearer or "")
    assert claims is not None  # CurrentUser accepted it
    revoke_token(session, claims)


@router.post(
    "/api/auth/logout-all",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Log out everywhere: every token of this user issued until now is void",
)
def logout_everywhere(user: CurrentUser, session: SessionDep) -> None:
    void_tokens(user)
    session.add(user)
    session.commit()
