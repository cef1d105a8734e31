"""Tables of the SHAMS rollout's workflows (process 4): the start form, and where each county
and each site workflow of a rollout stands.

The rollout and its counties learn their progress here (not from one signal per site), and
the board reads it: a county late or open, the sites whose workflows still run.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from db.models import EnumText, UtcDateTime, utcnow
from domain.shams_process import CountyPhase, SiteOutcome


class RolloutRequest(SQLModel, table=True):
    """The rollout's start form, kept so its workflow can always be started again."""

    __tablename__ = "shams_rollout_requests"

    case_id: int = Field(primary_key=True, foreign_key="cases.id")
    title: str = Field(max_length=200)


class CountyRun(SQLModel, table=True):
    """A county's part in a rollout: its phase, and whether it ended."""

    __tablename__ = "shams_county_runs"
    __table_args__ = (
        UniqueConstraint("rollout_id", "county_code"),
        Index("ix_shams_county_runs_open", "rollout_id", "ended"),
    )

    id: int | None = Field(default=None, primary_key=True)
    rollout_id: str = Field(max_length=40)
    county_code: str = Field(max_length=20)
    answer_by: date
    """The letter's deadline: a county still collecting after it is late (the board lists
    it first)."""
    phase: CountyPhase = Field(default=CountyPhase.collect, sa_type=EnumText(CountyPhase, 20))
    ended: bool = False
    cancelled: bool = False
    updated_at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)


class SiteRun(SQLModel, table=True):
    """A site's workflow in a rollout: its current step, and how it ended."""

    __tablename__ = "shams_site_runs"
    __table_args__ = (
        UniqueConstraint("rollout_id", "site_code"),
        Index("ix_shams_site_runs_county_open", "rollout_id", "county_code", "ended", "site_code"),
    )

    id: int | None = Field(default=None, primary_key=True)
    rollout_id: str = Field(max_length=40)
    county_code: str = Field(max_length=20)
    site_code: str = Field(max_length=30)
    step: str = Field(max_length=60)
    registration_number: str | None = Field(default=None, max_length=40)
    """The site's number in the SHAMS system, once entered."""
    ended: bool = False
    outcome: SiteOutcome | None = Field(default=None, sa_type=EnumText(SiteOutcome, 30))
    updated_at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)
