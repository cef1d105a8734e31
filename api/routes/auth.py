"""POST /api/auth/token: the OAuth2 password form gives a bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from api.errors import ApiError, documented
from api.security import CurrentUser, SessionDep, SettingsDep, authenticate, issue_token

router = APIRouter(tags=["auth"], responses=documented(401))


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


class Me(BaseModel):
    username: str
    full_name: str
    roles: list[str]
    scopes: list[str]


@router.post("/api/auth/token", response_model=Token, summary="Log in (username, password)")
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> Token:
    user = authenticate(session, form.username, form.password)
    if user is None:
        raise ApiError(401, "invalid_credentials")
    return Token(access_token=issue_token(settings, user.username))


@router.get("/api/auth/me", response_model=Me, summary="Who am I")
def me(user: CurrentUser) -> Me:
    return Me.model_validate(user.model_dump())
