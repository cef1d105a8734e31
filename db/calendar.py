"""The university's working calendar as the database holds it today (weekend + holidays)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from db.models import Holiday
from domain.calendar import WorkingCalendar
from settings import Settings

CALENDAR_HORIZON = timedelta(days=800)
"""Holidays this far ahead are read: more than any SLA or promised answer can reach."""


_HOLIDAYS_BETWEEN = select(col(Holiday.day)).where(
    col(Holiday.day) >= bindparam("first"), col(Holiday.day) <= bindparam("last")
)
"""Built once: every start reads the holidays (a new one counts at once), and building the
statement cost more than running it."""


def working_calendar(session: Session, settings: Settings, from_day: date) -> WorkingCalendar:
    """The calendar for counting working days from `from_day` on."""
    days = (
        session.connection()
        .execute(
            _HOLIDAYS_BETWEEN,
            {"first": from_day - timedelta(days=2), "last": from_day + CALENDAR_HORIZON},
        )
        .scalars()
        .all()
    )
    return WorkingCalendar(
        weekend=settings.weekend(), holidays=frozenset(days), timezone=settings.timezone
    )
