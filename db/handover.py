"""The sealed secrets of cases, and the one-time links that hand them over (process 3)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from db.models import UtcDateTime, utcnow


class CaseSecret(SQLModel, table=True):
    """A value typed once for a case (a cartable's initial password), sealed with
    CREDENTIAL_KEYS; erased once shown, or when the case ends without showing it."""

    __tablename__ = "case_secrets"

    case_id: int = Field(primary_key=True, foreign_key="cases.id")
    name: str = Field(primary_key=True, max_length=40)
    """The decision field it was typed in (`initial_password`)."""
    ciphertext: str | None = Field(default=None, max_length=1000)
    sealed_at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)
    sealed_by: str = Field(max_length=64)
    erased_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class HandoverLink(SQLModel, table=True):
    """The case's one-time link to its credentials: only the latest is valid."""

    __tablename__ = "handover_links"

    case_id: int = Field(primary_key=True, foreign_key="cases.id")
    number: int
    """Which link of the case it is; a new one voids the one before."""
    token_hash: str = Field(unique=True, max_length=64)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    failures: int = 0
    """Wrong second factors given on it."""
    locked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    viewed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    confirmed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    issued_at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)
